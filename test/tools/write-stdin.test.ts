// Interactive executions through the real server and the SDK client: prompts, write_stdin, PTYs, resize, keys, REPLs.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callTool, callWithProgress, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

async function execute(c: Client, args: Record<string, unknown>) {
  const result = await callTool(c, 'execute', args);
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  groups.addResult(result);
  return structured(result);
}

async function write(c: Client, args: Record<string, unknown>) {
  const result = await callTool(c, 'write_stdin', { waitMs: 10_000, ...args });
  return { s: structured(result), text: (result.content as Array<{ text: string }>)[0]!.text, isError: result.isError === true };
}

/** write_stdin with no data until `check` holds (a loaded machine may need several turns). */
async function until(c: Client, id: string, check: (s: any) => boolean, what: string) {
  let last: any;
  await waitFor(
    async () => {
      last = (await write(c, { id, waitMs: 1_000 })).s;
      return check(last);
    },
    30_000,
    what,
  );
  return last;
}

describe('interactive executions', () => {
  it('returns at a read prompt with waitingForInput, and write_stdin gets the answer and the exit', async () => {
    const c = await fx.serve();
    const started = Date.now();
    const s = await execute(c, { command: 'read -p "name? " n; echo "hello $n"', interactive: true });
    expect(s.state).toBe('running');
    expect(s.waitingForInput).toBe(true);
    expect(s.interactive).toBe(true);
    expect(s.pty).toBeNull();
    expect(s.inputDetection).toBe('proc');
    expect(Date.now() - started).toBeLessThan(15_000);
    const r = await write(c, { id: s.id, data: 'bob\n' });
    expect(r.s.state).toBe('exited');
    expect(r.s.exitCode).toBe(0);
    expect(r.s.output.stdout).toBe('hello bob\n');
    expect(r.text).toContain('hello bob');
    expect(r.s.input).toEqual({ writes: 1, bytes: 4, closed: false, pending: 0 });
  });

  it('names write_stdin in the text of a call that returns waiting, with the prompt on a terminal', async () => {
    const c = await fx.serve();
    const result = await callTool(c, 'execute', { command: 'read -p "name? " n; echo "hello $n"', pty: true });
    groups.addResult(result);
    const s = structured(result);
    expect(s.waitingForInput).toBe(true);
    // Under load the prompt's bytes may trail the blocked read by a moment.
    const later = s.prompt === 'name?' ? s : await until(c, s.id, (x) => x.prompt === 'name?', 'the prompt');
    expect(later.prompt).toBe('name?');
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain('is waiting for input');
    expect(text).toContain(`write_stdin {"id": "${s.id}"`);
    const r = await write(c, { id: s.id, data: 'bob\r' });
    expect(r.s.exitCode).toBe(0);
    expect(r.s.output.stdout).toContain('hello bob');
  });

  it('streams a waiting-for-input progress notification with the prompt', async () => {
    const c = await fx.serve();
    const { result, streamed } = await callWithProgress(c, 'execute', { command: 'echo first; read -p "pin? " n', pty: true });
    groups.addResult(result);
    expect(structured(result).waitingForInput).toBe(true);
    const notice = streamed.notifications.find((n) => n._meta?.['cc-executor/kind'] === 'input');
    expect(notice?.message).toBe('[waiting for input] pin?');
    expect(streamed.notifications.some((n) => n._meta?.['cc-executor/kind'] === 'started')).toBe(true);
    expect(streamed.stdout).toContain('first\n');
    await write(c, { id: structured(result).id, data: '', eof: true });
  });

  it('runs on a terminal of the requested size, and resize changes it', async () => {
    const c = await fx.serve();
    const s = await execute(c, {
      argv: [
        'python3',
        '-c',
        'import os,sys; print(sys.stdin.isatty(), sys.stdout.isatty(), os.get_terminal_size()); input(); print(os.get_terminal_size())',
      ],
      pty: { cols: 91, rows: 27 },
    });
    expect(s.pty).toEqual({ cols: 91, rows: 27 });
    const first = await until(c, s.id, (x) => x.waitingForInput && x.stdout.includes('os.terminal_size'), 'the input() prompt');
    expect(first.stdout).toContain('True True os.terminal_size(columns=91, lines=27)');
    const resized = await callTool(c, 'control', { id: s.id, action: 'resize', cols: 132, rows: 43 });
    expect(resized.isError).toBeFalsy();
    expect(structured(resized).pty).toEqual({ cols: 132, rows: 43 });
    const r = await write(c, { id: s.id, data: '\r' });
    expect(r.s.exitCode).toBe(0);
    expect(r.s.output.stdout).toContain('os.terminal_size(columns=132, lines=43)');
  });

  it('stops a foreground sleep with Ctrl-C while the interactive shell survives', async () => {
    const c = await fx.serve();
    const s = await execute(c, { argv: ['bash', '--norc', '--noprofile', '-i'], pty: true, env: { PS1: '$ ' } });
    expect(s.waitingForInput).toBe(true);
    const sleeping = await write(c, { id: s.id, data: 'sleep 100\r', waitMs: 1_500 });
    expect(sleeping.s.state).toBe('running');
    expect(sleeping.s.waitingForInput).toBe(false);
    const interrupted = await write(c, { id: s.id, data: '\u0003' });
    expect(interrupted.s.state).toBe('running');
    expect(interrupted.s.waitingForInput).toBe(true);
    const alive = await write(c, { id: s.id, data: 'echo "alive $((6*7))"\r' });
    expect(alive.s.output.stdout).toContain('alive 42');
    const bye = await write(c, { id: s.id, data: 'exit\r' });
    expect(bye.s.state).toBe('exited');
    expect(bye.s.exitCode).toBe(0);
  });

  it('talks to a Python REPL', async () => {
    const c = await fx.serve();
    const s = await execute(c, { argv: ['python3', '-q'], pty: true });
    expect(s.waitingForInput).toBe(true);
    const r = await write(c, { id: s.id, data: 'print(6*7)\r' });
    expect(r.s.output.stdout).toMatch(/^42$/m);
    expect(r.s.waitingForInput).toBe(true);
    const bye = await write(c, { id: s.id, eof: true });
    expect(bye.s.exitCode).toBe(0);
    expect(bye.s.input.closed).toBe(true);
  });

  it('runs top -b -n 1 on a terminal', async () => {
    const c = await fx.serve();
    const s = await execute(c, { command: 'top -b -n 1 | head -20', pty: true });
    expect(s.exitCode).toBe(0);
    expect(s.stdout).toMatch(/PID\s+USER/);
  });

  it('shows a \\r progress bar at its last state while the log keeps every raw frame', async () => {
    const c = await fx.serve();
    const s = await execute(c, {
      command: 'for i in $(seq 1 200); do printf "\\rprogress %3d%%" $((i / 2)); done; printf "\\n\\033[32mdone\\033[0m\\n"',
      pty: true,
    });
    expect(s.exitCode).toBe(0);
    expect(s.stdout).toBe('progress 100%\ndone\n');
    const status = await callTool(c, 'status', { id: s.id, sinceSeq: 0 });
    const raw = structured(status)
      .output.chunks.map((ch: { data: string }) => ch.data)
      .join('');
    expect(raw.split('\rprogress').length - 1).toBe(200);
    expect(raw).toContain('\x1b[32mdone');
    const text = (status.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain('progress 100%\ndone');
    expect(text).not.toContain('progress  99%');
  });

  it('keeps an interactive stdin open as a pipe: cat echoes each write, eof ends it', async () => {
    const c = await fx.serve();
    const s = await execute(c, { argv: ['cat'], interactive: true, stdin: 'first\n' });
    expect(s.waitingForInput).toBe(true);
    expect(s.stdout).toBe('first\n');
    const r = await write(c, { id: s.id, data: 'second\n' });
    expect(r.s.output.stdout).toBe('second\n');
    const end = await write(c, { id: s.id, eof: true });
    expect(end.s.state).toBe('exited');
    expect(end.s.exitCode).toBe(0);
  });

  it('takes input key by key from many short calls without piling up listeners on the execution', async () => {
    const c = await fx.serve();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      // Reads nothing until the end, so no call returns early: each one waits out its waitMs (50 ms or none).
      const s = await execute(c, { command: 'sleep 5; cat >/dev/null', interactive: true, background: true });
      for (let i = 0; i < 30; i++) {
        const r = await write(c, { id: s.id, data: 'k', waitMs: i % 2 === 0 ? 50 : 0 });
        expect(r.isError, r.text).toBe(false);
      }
      const end = await write(c, { id: s.id, eof: true, waitMs: 15_000 });
      expect(end.s.exitCode).toBe(0);
      expect(end.s.input).toMatchObject({ writes: 30, bytes: 30 });
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => w.message).filter((m) => m.includes('listeners'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('returns within its wait when the command does not read its input, and the input waits in order for it', async () => {
    const c = await fx.serve();
    // Reads nothing until the flag file exists: 512 KiB is far more than a pipe holds, so a write cannot finish.
    const flag = join(mkdtempSync(join(tmpdir(), 'cc-write-stdin-')), 'go');
    const s = await execute(c, { command: `until [ -e ${flag} ]; do sleep 0.05; done; wc -c`, interactive: true, waitMs: 200 });
    const big = 'x'.repeat(512 * 1024);
    const started = Date.now();
    const writes = [];
    for (let k = 0; k < 2; k++) writes.push(await callTool(c, 'write_stdin', { id: s.id, data: big, waitMs: 500 }));
    // Each answers in about its wait (not at the client's timeout), saying input is still pending.
    expect(Date.now() - started).toBeLessThan(30_000);
    for (const r of writes) {
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect(structured(r).state).toBe('running');
      expect(structured(r).input.pending).toBeGreaterThan(0);
      expect((r.content as Array<{ text: string }>)[0]!.text).toMatch(/not yet read/);
    }
    // 1 MiB queued at most: more is refused (memory stays bounded), and nothing of it is queued.
    const refused = await callTool(c, 'write_stdin', { id: s.id, data: big, waitMs: 100 });
    expect(refused.isError).toBe(true);
    expect(structured(refused).error).toMatchObject({ code: 'LIMIT_REACHED', details: { limit: 'pendingInput' } });
    // Nothing was lost or reordered: once it reads and stdin closes, wc counts every byte.
    writeFileSync(flag, '');
    const closed = await write(c, { id: s.id, eof: true, waitMs: 20_000 });
    const done =
      closed.s.state === 'exited' ? closed.s : await until(c, s.id, (x) => x.state === 'exited', 'wc to read everything and exit');
    expect(done.exitCode).toBe(0);
    const all = structured(await callTool(c, 'status', { id: s.id, lines: { from: 1, to: 1 } }));
    expect(all.lines.text.trim()).toBe(String(2 * big.length));
    expect(done.input).toMatchObject({ writes: 2, closed: true, pending: 0 });
    rmSync(dirname(flag), { recursive: true, force: true });
  });

  it('reads and searches a terminal log as the rendered text a model sees, with the line numbers of the log', async () => {
    const c = await fx.serve();
    const s = await execute(c, { command: 'seq 1 300; printf "\\033[31mERROR\\033[0m here\\n"; printf "50%%\\r100%% done\\n"', pty: true });
    expect(s.state).toBe('exited');
    const found = structured(await callTool(c, 'status', { id: s.id, grep: 'ERROR here' }));
    expect(found.grep.matches).toMatchObject([{ stream: 'stdout', line: 301, text: 'ERROR here' }]);
    const lines = structured(await callTool(c, 'status', { id: s.id, lines: { from: 300, to: 302 } }));
    expect(lines.lines).toMatchObject({ from: 300, to: 302, text: '300\nERROR here\n100% done' });
  });

  it('records how much input was written, never what', async () => {
    const c = await fx.serve();
    const s = await execute(c, { command: 'read -r secret; echo "got ${#secret} chars"', interactive: true });
    const r = await write(c, { id: s.id, data: 'hunter2-passw0rd\n' });
    expect(r.s.output.stdout).toBe('got 16 chars\n');
    expect(r.s.input).toEqual({ writes: 1, bytes: 17, closed: false, pending: 0 });
    await fx.server.engine.records.flush();
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(path);
      }
    };
    walk(fx.server.engine.config.dataDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(f, 'utf8'), f).not.toContain('hunter2');
    const past = await callTool(c, 'status', { id: s.id });
    expect(structured(past).input).toEqual({ writes: 1, bytes: 17, closed: false, pending: 0 });
  });

  it('refuses input to what cannot take it, with stable codes', async () => {
    const c = await fx.serve({ maxWriteStdinWaitMs: 5_000 });
    const plain = await execute(c, { command: 'echo hi' });
    const errorCode = async (args: Record<string, unknown>) => {
      const r = await callTool(c, 'write_stdin', args);
      expect(r.isError).toBe(true);
      return (r.structuredContent as { error: { code: string } }).error.code;
    };
    expect(await errorCode({ id: plain.id, data: 'x' })).toBe('INVALID_STATE');
    expect(await errorCode({ id: 'nope-nope', data: 'x' })).toBe('NOT_FOUND');
    const cat = await execute(c, { argv: ['cat'], interactive: true });
    expect(await errorCode({ id: cat.id })).toBe('INVALID_INPUT');
    expect(await errorCode({ id: cat.id, data: 'x', waitMs: 60_000 })).toBe('INVALID_INPUT');
    const resize = await callTool(c, 'control', { id: cat.id, action: 'resize', cols: 80, rows: 24 });
    expect((resize.structuredContent as { error: { code: string } }).error.code).toBe('INVALID_STATE');
    const ended = await write(c, { id: cat.id, eof: true, waitMs: 5_000 });
    expect(ended.s.state).toBe('exited');
    expect(await errorCode({ id: cat.id, data: 'late' })).toBe('INVALID_STATE');
  });
});
