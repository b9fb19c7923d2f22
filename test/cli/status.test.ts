// `cc-executor status` as a real process: the table of all sessions' executions, one execution, --follow across dropped connections.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GroupTracker, callTool, connectWs, startTestServer, structured, type TestServer } from '../helpers/server.js';
import { hex, killClients, runCli, spawnCli, writeBytesArgv } from './bin.js';

let server: TestServer;
let client: Client | undefined;
const groups = new GroupTracker();
let dir: string;

beforeAll(async () => {
  server = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'cc-cli-status-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  killClients();
  await client?.close();
  client = undefined;
  for (const e of server.engine.executions.list()) {
    groups.add(e.snapshot().pgid);
    if (e.state !== 'exited') void e.terminate('cancel');
  }
  await groups.expectGroupsGone();
});

/** Start an execution from another session (an SDK client), as an agent would. */
async function startElsewhere(args: Record<string, unknown>): Promise<{ id: string; pgid: number }> {
  client ??= await connectWs(server.url);
  const s = structured(await callTool(client, 'execute', args));
  groups.add(s.pgid);
  return { id: s.id, pgid: s.pgid };
}

describe('cc-executor status (list)', () => {
  it('lists the executions of every session in a table, and as JSON', async () => {
    const running = await startElsewhere({ command: 'sleep 30', background: true });
    const done = await startElsewhere({ command: 'echo hi; exit 6' });
    const r = await runCli(['status'], { url: server.url });
    expect(r.code, r.stderr.toString()).toBe(0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+EXIT\s+DURATION\s+COMMAND$/);
    const row = (id: string) => lines.find((l) => l.startsWith(id.slice(0, 8)));
    expect(row(running.id)).toMatch(/running\s+-\s+\S+\s+sleep 30$/);
    expect(row(done.id)).toMatch(/exited\s+6\s+\S+\s+echo hi; exit 6$/);

    const json = await runCli(['status', '--json'], { url: server.url });
    const parsed = JSON.parse(json.stdout.toString());
    expect(parsed.executions.map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining([running.id, done.id]));
    expect(parsed.server.version).toEqual(expect.any(String));
  });
});

describe('cc-executor status --history', () => {
  it('lists saved records after a server restart, filtered, and status ID still shows a past execution', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-cli-history-'));
    try {
      const first = await startTestServer({ dataDir });
      const ran = await runCli(['run', '--', 'echo remembered; exit 9'], { url: first.url });
      expect(ran.code).toBe(9);
      await runCli(['run', '--', 'echo other'], { url: first.url });
      await first.close();

      const second = await startTestServer({ dataDir });
      try {
        // Past records load after the server listens.
        await second.engine.records.whenLoaded();
        const r = await runCli(['status', '--history', '--query', 'remembered'], { url: second.url });
        expect(r.code, r.stderr.toString()).toBe(0);
        const lines = r.stdout.toString().trimEnd().split('\n');
        expect(lines).toHaveLength(2);
        expect(lines[1]).toMatch(/^([0-9a-f]{8})\s+exited\s+9\s+\S+\s+echo remembered; exit 9$/);
        const prefix = lines[1]!.slice(0, 8);
        const past = await runCli(['status', prefix], { url: second.url });
        expect(past.code, past.stderr.toString()).toBe(0);
        expect(past.stdout.toString()).toBe('remembered\n');
        const json = await runCli(['status', '--history', '--json', '--limit', '1'], { url: second.url });
        expect(JSON.parse(json.stdout.toString()).executions).toHaveLength(1);
        const misuse = await runCli(['status', '--query', 'x'], { url: second.url });
        expect(misuse.code).toBe(125);
        expect(misuse.stderr.toString()).toContain('--query applies to --history only');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('cc-executor status ID', () => {
  it('resolves an id prefix and prints the state line on stderr and the output on stdout/stderr', async () => {
    const { id } = await startElsewhere({ command: 'printf "one\\n"; printf "two\\n" >&2; printf "three"; exit 2' });
    const r = await runCli(['status', id.slice(0, 6)], { url: server.url });
    expect(r.code, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toBe('one\nthree');
    expect(r.stderr.toString()).toBe(
      `${id} exited with code 2 after ${/after (\S+?):/.exec(r.stderr.toString())![1]}: printf "one\\n"; printf "two\\n" >&2; printf "three"; exit 2\ntwo\n`,
    );

    const json = await runCli(['status', '--json', id.slice(0, 8)], { url: server.url });
    const parsed = JSON.parse(json.stdout.toString());
    expect(parsed).toMatchObject({ id, state: 'exited', exitCode: 2 });
    // Order across the two pipes is the reader's race; within each stream it is exact.
    const joined = (stream: string) =>
      (parsed.output.chunks as Array<{ stream: string; data: string }>)
        .filter((c) => c.stream === stream)
        .map((c) => c.data)
        .join('');
    expect([joined('stdout'), joined('stderr')]).toEqual(['one\nthree', 'two\n']);
  });

  it('an unknown id exits 125 with NOT_FOUND, a too short prefix is a usage error', async () => {
    const missing = await runCli(['status', 'ffffffff'], { url: server.url });
    expect(missing.code).toBe(125);
    expect(missing.stderr.toString()).toContain('NOT_FOUND: no execution with id ffffffff');
    const json = await runCli(['status', '--json', 'ffffffff'], { url: server.url });
    expect(JSON.parse(json.stdout.toString())).toMatchObject({ type: 'error', error: { code: 'NOT_FOUND', exitCode: 125 } });
    const short = await runCli(['status', 'abc'], { url: server.url });
    expect(short.code).toBe(125);
    expect(short.stderr.toString()).toContain('too short');
  });
});

describe('cc-executor status --follow', () => {
  it('tails a running execution to its end and exits with its status', async () => {
    const flag = join(dir, 'go-follow');
    const { id } = await startElsewhere({
      argv: writeBytesArgv(`out:${hex('before\n')}`, `wait-file:${flag}`, `err:${hex('e\n')}`, `out:${hex('after\n')}`, 'exit:5'),
      background: true,
    });
    const p = spawnCli(['status', '--follow', id.slice(0, 8)], { url: server.url });
    await p.waitForStdout('before\n');
    writeFileSync(flag, '');
    expect((await p.exited).code).toBe(5);
    expect(p.stdout().toString()).toBe('before\nafter\n');
    expect(p.stderr().toString()).toBe('e\n');
  });

  it('reconnects after the server drops the socket and prints every byte exactly once', async () => {
    // A background execution survives the disconnects; it writes numbered lines for ~3 s.
    const steps: string[] = [];
    let expected = '';
    for (let i = 0; i < 30; i++) {
      const line = `line ${i} ${'é€😀'.repeat(i % 4)}\n`;
      expected += line;
      steps.push(`out:${hex(line)}`, 'sleep:100');
    }
    const { id } = await startElsewhere({ argv: writeBytesArgv(...steps, 'exit:3'), background: true });
    const p = spawnCli(['status', '-f', id], { url: server.url });
    await p.waitForStdout('line 5 ');
    server.engine.sessions.closeAll('shutdown');
    await p.waitForStdout('line 15 ');
    server.engine.sessions.closeAll('shutdown');
    await new Promise((r) => setTimeout(r, 50));
    server.engine.sessions.closeAll('shutdown');
    const { code } = await p.exited;
    expect(code, p.stderr().toString()).toBe(3);
    expect(p.stdout().toString()).toBe(expected);
    expect(p.stderr().length).toBe(0); // reconnect notes are for terminals only
  });

  it('--json prints output events and a final result, one JSON object per line', async () => {
    const { id } = await startElsewhere({ command: 'echo a; sleep 0.3; echo b >&2', background: true });
    const r = await runCli(['status', '--follow', '--json', id], { url: server.url });
    expect(r.code).toBe(0);
    const lines = r.stdout
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.filter((l) => l.type === 'output').map((l) => [l.stream as string, l.data as string])).toEqual([
      ['stdout', 'a\n'],
      ['stderr', 'b\n'],
    ]);
    expect(lines.at(-1)).toMatchObject({ type: 'result', id, state: 'exited', exitCode: 0 });
  });

  it('follows an execution that already ended: all its output, then its exit status', async () => {
    const { id } = await startElsewhere({ command: 'echo gone; kill -TERM $$' });
    const r = await runCli(['status', '--follow', id.slice(0, 5)], { url: server.url });
    expect(r.code).toBe(143);
    expect(r.stdout.toString()).toBe('gone\n');
  });

  it('gives up with 255 when the server is gone for good', async () => {
    const doomed = await startTestServer({ graceMs: 200 });
    try {
      const other = await connectWs(doomed.url);
      const s = structured(await callTool(other, 'execute', { command: 'echo x; sleep 30', background: true }));
      groups.add(s.pgid);
      const p = spawnCli(['status', '--follow', '--reconnect-for', '1s', s.id], { url: doomed.url });
      await p.waitForStdout('x\n');
      await other.close();
      // The network goes first, the command keeps running: a graceful close would end the command, and under load
      // its end (143) could reach the follower before the connection dropped.
      await doomed.net.close();
      const { code } = await p.exited;
      expect(code).toBe(255);
      expect(p.stderr().toString()).toMatch(/cannot reach the server .*; gave up reconnecting after 1\.0s/);
    } finally {
      await doomed.close().catch(() => undefined);
    }
  });
});
