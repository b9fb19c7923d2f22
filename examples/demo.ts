// `npm run demo`: a guided tour that starts a real server on a free port, drives it with the SDK client over
// WebSocket, then runs one command over Streamable HTTP and one over stdio (a server of its own), and saves every
// response as prettified JSON under tmp/responses/demo/. Exits 1 if any step looks wrong.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

if (!('WebSocket' in globalThis)) (globalThis as Record<string, unknown>).WebSocket = WebSocket;

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const OUT_DIR = join(process.env.CC_EXECUTOR_DEMO_DIR ?? 'tmp', 'responses', 'demo');

type Check = (s: any, r: CallToolResult) => string | null;
let failures = 0;
let step = 0;

function save(name: string, data: unknown): string {
  const file = join(OUT_DIR, `${String(++step).padStart(2, '0')}-${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

function verify(name: string, result: CallToolResult, check: Check, extra: Record<string, unknown> = {}): any {
  const s = result.structuredContent as any;
  const problem = check(s, result);
  const file = save(name, { step: name, ok: problem === null, problem, ...extra, response: result });
  process.stdout.write(`${problem === null ? 'ok  ' : 'FAIL'} ${name.padEnd(28)} ${problem ?? ''} -> ${file}\n`);
  if (problem !== null) failures++;
  return s;
}

async function main(): Promise<void> {
  mkdirSync(OUT_DIR, { recursive: true });
  const server = spawn(
    process.execPath,
    [MAIN, '--port', '0', '--log-level', 'info', '--data-dir', process.env.CC_EXECUTOR_DEMO_DATA ?? 'tmp'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stderr.on('data', (d) => {
      log += String(d);
      const m = /listening on (ws:\/\/[^\s"]+)/.exec(log);
      if (m) resolve(m[1]!);
    });
    server.once('exit', () => reject(new Error(`server exited: ${log}`)));
  });
  const dataDir = process.env.CC_EXECUTOR_DEMO_DATA ?? 'tmp';
  const client = new Client({ name: 'cc-executor-demo', version: '1' });
  await client.connect(new WebSocketClientTransport(new URL(url)));
  const call = (name: string, args: Record<string, unknown>, onprogress?: (p: any) => void) =>
    client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : {}) as Promise<CallToolResult>;

  try {
    // 1. Foreground execute with streamed output.
    const streamed: string[] = [];
    const fg = await call('execute', { command: 'for i in 1 2 3; do echo "line $i"; sleep 0.1; done; echo warn >&2' }, (p) => {
      if (p._meta?.['cc-executor/stream']) streamed.push(`${p._meta['cc-executor/stream']}: ${p.message}`);
    });
    verify(
      'foreground-execute',
      fg,
      (s) => (s.exitCode === 0 && s.stdout === 'line 1\nline 2\nline 3\n' && s.stderr === 'warn\n' ? null : 'unexpected output or exit'),
      {
        progressMessages: streamed,
      },
    );

    // 2. Background execute, then follow with status cursors until it ends.
    const bg = verify(
      'background-execute',
      await call('execute', { command: 'for i in 1 2 3 4; do echo tick $i; sleep 0.15; done', background: true }),
      (s) => (s.state === 'running' && s.background === true ? null : 'expected a running background handle'),
    );
    let since = 0;
    let followed = '';
    for (let i = 0; i < 100; i++) {
      const st = (await call('status', { id: bg.id, sinceSeq: since })).structuredContent as any;
      followed += st.output.chunks.map((c: any) => c.data).join('');
      since = st.output.nextSeq;
      if (st.state === 'exited' && !st.output.more) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    verify('background-status-follow', await call('status', { id: bg.id }), (s) =>
      s.state === 'exited' && followed === 'tick 1\ntick 2\ntick 3\ntick 4\n' ? null : `followed ${JSON.stringify(followed)}`,
    );

    // 3. Pause and resume a counting loop.
    const loop = (await call('execute', { command: 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done', background: true }))
      .structuredContent as any;
    await new Promise((r) => setTimeout(r, 300));
    verify('pause', await call('control', { id: loop.id, action: 'pause' }), (s) => (s.state === 'paused' ? null : `state ${s.state}`));
    // Lines the loop printed just before it stopped may still sit in the pipe: wait until the count settles,
    // then check that it stays put while the loop is paused.
    const bytes = async (): Promise<number> => ((await call('status', { id: loop.id })).structuredContent as any).stdoutBytes;
    let a = await bytes();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await bytes();
      if (now === a) break;
      a = now;
    }
    await new Promise((r) => setTimeout(r, 500));
    const b = await bytes();
    verify('resume', await call('control', { id: loop.id, action: 'resume' }), (s) =>
      s.state === 'running' && a === b ? null : `paused output grew ${a} -> ${b}`,
    );

    // 4. Cancel it: TERM to the whole group, KILL after the grace period.
    verify('cancel', await call('control', { id: loop.id, action: 'cancel' }), (s) =>
      s.state === 'exited' && s.terminationReason === 'cancel' ? null : `state ${s.state}, reason ${s.terminationReason}`,
    );

    // 5. A failing command is a normal result with its exit code, not a tool error.
    verify('failing-command', await call('execute', { command: 'ls /definitely/not/here' }), (s, r) =>
      !r.isError && s.exitCode !== 0 && s.stderr.includes('No such file') ? null : 'expected a non-zero exit with stderr',
    );

    // 6. Bad input is a tool error with a stable code.
    verify('bad-input', await call('execute', { command: 'true', argv: ['true'] }), (s, r) =>
      r.isError && s.error?.code === 'INVALID_INPUT' ? null : 'expected INVALID_INPUT',
    );

    // 7. History from the saved records.
    verify('history', await call('status', { scope: 'history', limit: 10 }), (s) =>
      s.executions.length >= 4 ? null : 'expected the four runs above in history',
    );

    // 8. The same server over Streamable HTTP (POST /mcp, progress on the request's SSE stream).
    const http = new Client({ name: 'cc-executor-demo-http', version: '1' });
    const httpTransport = new StreamableHTTPClientTransport(new URL(url.replace(/^ws/, 'http').replace(/\/ws\/mcp$/, '/mcp')));
    await http.connect(httpTransport);
    try {
      const progress: string[] = [];
      const r = (await http.callTool({ name: 'execute', arguments: { command: 'echo over http' } }, undefined, {
        onprogress: (p) => void (p.message !== undefined && progress.push(p.message)),
      })) as CallToolResult;
      verify('streamable-http', r, (s) => (s.stdout === 'over http\n' ? null : `stdout ${JSON.stringify(s.stdout)}`), {
        progressMessages: progress,
      });
    } finally {
      await httpTransport.terminateSession(); // DELETE /mcp ends the session at once
      await http.close();
    }

    // 9. stdio: the client starts a server of its own (as Claude Code does with a stdio entry).
    const stdio = new Client({ name: 'cc-executor-demo-stdio', version: '1' });
    await stdio.connect(
      new StdioClientTransport({ command: process.execPath, args: [MAIN, '--stdio', '--log-level', 'warn', '--data-dir', dataDir] }),
    );
    try {
      const r = (await stdio.callTool({ name: 'execute', arguments: { argv: ['echo', 'over stdio'] } })) as CallToolResult;
      verify('stdio', r, (s) => (s.stdout === 'over stdio\n' ? null : `stdout ${JSON.stringify(s.stdout)}`));
    } finally {
      await stdio.close(); // stdin EOF: that server ends its processes and exits
    }
  } finally {
    await client.close();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  process.stdout.write(failures === 0 ? `\nall steps ok; responses in ${OUT_DIR}\n` : `\n${failures} step(s) failed\n`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
