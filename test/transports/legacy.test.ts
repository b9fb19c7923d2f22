// The original service's protocol on /ws/mcp (no subprotocol), driven by a client written from its description.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { LegacyClient, type RpcMessage } from '../helpers/legacy-client.js';
import { connectWs, GroupTracker, isStopped, startTestServer, waitFor, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
const clients: LegacyClient[] = [];
const groups = new GroupTracker();

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server?.close();
  server = undefined;
  await groups.expectGroupsGone();
});

async function connect(overrides: Parameters<typeof startTestServer>[0] = {}): Promise<LegacyClient> {
  server ??= await startTestServer(overrides);
  const client = await LegacyClient.connect(server.url);
  clients.push(client);
  await client.notification('connected');
  return client;
}

/** `execute` and return its result, tracking the process group. */
async function execute(client: LegacyClient, params: Record<string, unknown>): Promise<{ id: string; pid: number; pgid: number }> {
  const res = await client.request('execute', params);
  expect(res.error, JSON.stringify(res.error)).toBeUndefined();
  groups.add(res.result.pgid);
  return res.result as { id: string; pid: number; pgid: number };
}

function completed(client: LegacyClient, id: string, timeoutMs = 20_000): Promise<RpcMessage> {
  return client.notification('process.completed', (p) => p.id === id, timeoutMs);
}

/** A shell command that prints one line of `n` characters (a repeating pattern) and a newline. */
function longLineCommand(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
  const script = `const a=${JSON.stringify(alphabet)};process.stdout.write(a.repeat(Math.ceil(${n}/a.length)).slice(0,${n})+"\\n")`;
  return `'${process.execPath}' -e '${script}'`;
}

function pattern(n: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'): string {
  return alphabet.repeat(Math.ceil(n / alphabet.length)).slice(0, n);
}

const COUNTER = 'i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done';

describe('original protocol: connection', () => {
  it('sends `connected` first, with session_id, version and the three capabilities', async () => {
    server = await startTestServer();
    const client = await LegacyClient.connect(server.url);
    clients.push(client);
    expect(client.ws.protocol).toBe('');
    const first = await client.waitFor(() => true, 5_000, 'first message');
    expect(first).toMatchObject({ jsonrpc: '2.0', method: 'connected' });
    expect(first.id).toBeUndefined();
    expect(first.params.capabilities).toEqual(['execute', 'control', 'stream']);
    expect(typeof first.params.session_id).toBe('string');
    expect(typeof first.params.version).toBe('string');
    expect(server.engine.sessions.get(first.params.session_id)?.transport).toBe('websocket');
  });

  it('keeps serving MCP on the same path to clients that offer the mcp subprotocol', async () => {
    const legacy = await connect();
    const mcp = await connectWs(server!.url);
    const tools = await mcp.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('execute');
    await mcp.close();
    expect(legacy.open).toBe(true);
  });

  it('answers hook_status, ping and pong', async () => {
    const client = await connect();
    const hooks = await client.request('hook_status');
    expect(hooks.result).toMatchObject({ enabled: false });
    const ping = await client.request('ping');
    expect(ping.result).toMatchObject({ status: 'pong' });
    expect(typeof ping.result.timestamp).toBe('number');
    const pong = await client.request('pong');
    expect(pong.result).toEqual({ status: 'ok' });
    const before = client.messages.length;
    client.notifyServer('pong', { timestamp: 1 });
    client.notifyServer('ping');
    await client.notification('pong');
    // the pong notification got no answer; the ping notification got exactly one `pong`
    expect(client.messages.slice(before).map((m) => m.method)).toEqual(['pong']);
  });

  it('sends heartbeat `ping` notifications and never closes a client that does not answer them', async () => {
    const client = await connect({ legacyHeartbeatMs: 100 });
    await waitFor(() => client.notifications('ping').length >= 5, 10_000, 'five heartbeats');
    for (const p of client.notifications('ping')) expect(typeof p.timestamp).toBe('number');
    expect(client.open).toBe(true);
    expect((await client.request('hook_status')).result).toBeDefined();
  });

  it('kills the processes of a connection that goes away', async () => {
    const client = await connect();
    const { pgid, id } = await execute(client, { command: 'sleep 60 & sleep 60; wait' });
    await waitFor(() => listGroupMembers(pgid).length >= 3, 5_000, 'three members');
    await client.close();
    await waitFor(() => listGroupMembers(pgid).length === 0, 10_000, 'group to die');
    const execution = server!.engine.executions.find(id);
    await execution.done;
    expect(execution.terminationReason).toBe('disconnect');
    await waitFor(() => server!.engine.sessions.size === 0, 5_000, 'session to end');
  });
});

describe('original protocol: execute and output', () => {
  it('runs a command: started, one process.output per line on each stream, completed with the exit code', async () => {
    const client = await connect();
    const res = await client.request('execute', { command: 'echo out1; echo err1 >&2; echo out2; exit 3' });
    expect(res.result).toMatchObject({ status: 'started' });
    expect(res.result.pid).toBeGreaterThan(0);
    expect(res.result.pgid).toBe(res.result.pid);
    groups.add(res.result.pgid);
    const { id, pid, pgid } = res.result;

    const done = await completed(client, id);
    expect(done.params).toMatchObject({ status: 'failed', pid, pgid, exit_code: 3, error: null });
    expect(typeof done.params.execution_time).toBe('number');
    expect(done.params.execution_time).toBeGreaterThan(0);

    const started = await client.notification('process.started', (p) => p.id === id);
    expect(started.params).toEqual({ status: 'started', pid, pgid, exit_code: null, error: null, id });
    const order = client.messages.filter((m) => m.id === res.id || m.params?.id === id).map((m) => m.method ?? 'result');
    expect(order[0]).toBe('result');
    expect(order[1]).toBe('process.started');
    expect(order[order.length - 1]).toBe('process.completed');

    const out = client.notifications('process.output', (p) => p.id === id);
    expect(out.filter((p) => p.type === 'stdout').map((p) => p.data as string)).toEqual(['out1\n', 'out2\n']);
    expect(out.filter((p) => p.type === 'stderr').map((p) => p.data as string)).toEqual(['err1\n']);
    for (const p of out) expect(p).toMatchObject({ truncated: false, chunk_index: null, total_chunks: null });

    await server!.engine.records.flush();
    expect(server!.engine.records.read(id)).toMatchObject({
      transport: 'legacy',
      exitCode: 3,
      command: 'echo out1; echo err1 >&2; echo out2; exit 3',
    });

    const ok = await execute(client, { command: 'printf "no newline at the end"' });
    expect((await completed(client, ok.id)).params).toMatchObject({ status: 'completed', exit_code: 0, error: null });
    expect(client.lines(ok.id)).toEqual([{ type: 'stdout', text: 'no newline at the end', parts: 1, continues: false }]);
  });

  it('honours cwd and env, and rejects a cwd that does not exist with -32602', async () => {
    const client = await connect();
    const { id } = await execute(client, { command: 'pwd; echo "$GREETING"', cwd: '/tmp', env: { GREETING: 'hello there' } });
    await completed(client, id);
    expect(client.text(id, 'stdout')).toBe('/tmp\nhello there\n');
    const bad = await client.request('execute', { command: 'true', cwd: '/no/such/dir' });
    expect(bad.error).toMatchObject({ code: -32602, data: { code: 'INVALID_CWD' } });
  });

  it('delivers a 100,000-character line whole, in two chunks', async () => {
    const client = await connect();
    const { id } = await execute(client, { command: longLineCommand(100_000) });
    await completed(client, id);
    const chunks = client.notifications('process.output', (p) => p.id === id);
    expect(chunks.map((c): unknown[] => [c.chunk_index, c.total_chunks, c.truncated, c.data.length])).toEqual([
      [0, 2, true, 65_536],
      [1, 2, false, 100_001 - 65_536],
    ]);
    expect(client.lines(id)).toEqual([{ type: 'stdout', text: `${pattern(100_000)}\n`, parts: 2, continues: false }]);
  });

  it('delivers a 9 MiB line whole and in order, followed by the next line, when legacyMaxLineChars allows it', async () => {
    const client = await connect({ legacyMaxLineChars: 16 * 1024 * 1024 });
    const n = 9 * 1024 * 1024;
    const { id } = await execute(client, { command: `${longLineCommand(n)}; echo after` });
    await completed(client, id, 60_000);
    const lines = client.lines(id);
    expect(lines).toHaveLength(2);
    expect(lines[0]!.parts).toBe(Math.ceil((n + 1) / 65_536));
    expect(lines[0]!.text.length).toBe(n + 1);
    expect(lines[0]!.text === `${pattern(n)}\n`).toBe(true);
    expect(lines[1]).toEqual({ type: 'stdout', text: 'after\n', parts: 1, continues: false });
  });

  it('never splits a character across chunks', async () => {
    const client = await connect();
    // 40,000 emoji: 80,000 UTF-16 code units, each emoji a surrogate pair
    const { id } = await execute(client, { command: longLineCommand(40_000 * 2, '😀') });
    await completed(client, id);
    const chunks = client.notifications('process.output', (p) => p.id === id);
    expect(chunks.length).toBe(2);
    for (const c of chunks) expect(/^(😀)*\n?$/u.test(c.data)).toBe(true);
    expect(client.lines(id)[0]!.text).toBe(`${'😀'.repeat(40_000)}\n`);
  });

  it('sends a line longer than legacyMaxLineChars in several parts, losing nothing', async () => {
    const client = await connect({ legacyMaxLineChars: 131_072 });
    const n = 300_000;
    const { id } = await execute(client, { command: longLineCommand(n) });
    await completed(client, id);
    const parts = client.lines(id);
    expect(parts.map((p) => p.continues)).toEqual([true, true, false]);
    expect(parts.map((p) => p.text).join('') === `${pattern(n)}\n`).toBe(true);
  });

  it('stops reading the child while the client does not read, and loses nothing once it does', async () => {
    const client = await connect({ highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024 });
    // 800 lines of 60,000 characters (48 MB), each starting with its number
    const script = 'for(let i=0;i<800;i++)process.stdout.write(String(i).padStart(6,"0")+"x".repeat(59993)+"\\n")';
    const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
    const { id } = await execute(client, { command: `'${process.execPath}' -e '${script}'` });
    socket.pause();
    try {
      await expectStalled(id, client);
    } finally {
      socket.resume();
    }
    await completed(client, id, 60_000);
    const lines = client.lines(id);
    expect(lines).toHaveLength(800);
    lines.forEach((l, i) => expect(l.text.slice(0, 6)).toBe(String(i).padStart(6, '0')));
    expect(lines.every((l) => l.text.length === 60_000)).toBe(true);
  });

  it('sends a long line held whole as fast as the client reads, not all at once, and completes after its last chunk', async () => {
    const client = await connect({ highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024, legacyMaxLineChars: 16 * 1024 * 1024 });
    const n = 8 * 1024 * 1024; // held whole (under legacyMaxLineChars), then 128 chunks
    const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
    // The child prints once the client has stopped reading.
    const goDir = mkdtempSync(join(tmpdir(), 'cc-executor-legacy-'));
    const go = join(goDir, 'go');
    const { id } = await execute(client, { command: `while [ ! -e '${go}' ]; do sleep 0.05; done; ${longLineCommand(n)}` });
    socket.pause();
    writeFileSync(go, '');
    try {
      const execution = server!.engine.executions.find(id);
      const flow = server!.engine.sessions.get(client.messages[0]!.params.session_id)!.flow;
      // The newline has been read: the line was handed on (or queued) in the same turn.
      await waitFor(() => execution.log.bytes.stdout === n + 1, 30_000, 'the child to print its whole line');
      await new Promise((r) => setTimeout(r, 200));
      // What waits for the paused client is about the high-water mark plus one chunk, not the 8 MiB line.
      expect(flow.pendingBytes).toBeLessThan(1024 * 1024);
    } finally {
      socket.resume();
      rmSync(goDir, { recursive: true, force: true });
    }
    await completed(client, id, 60_000);
    const parts = client.lines(id);
    expect(parts.map((p) => p.text).join('') === `${pattern(n)}\n`).toBe(true);
    const order = client.messages.filter((m) => m.params?.id === id).map((m) => m.method);
    expect(order.lastIndexOf('process.output')).toBeLessThan(order.indexOf('process.completed'));
  });

  /**
   * The session's flow meter is full and the child's output stops growing (its pipe is no longer read)
   * while the execution still runs. Silence alone proves nothing on a loaded machine (the child may just
   * not be scheduled), so the meter must be full across the whole quiet spell.
   */
  async function expectStalled(id: string, client: LegacyClient): Promise<void> {
    const execution = server!.engine.executions.find(id);
    const flow = server!.engine.sessions.get(client.messages[0]!.params.session_id)!.flow;
    await waitFor(
      async () => {
        const before = execution.log.bytes.stdout;
        if (!flow.full) return false;
        await new Promise((r) => setTimeout(r, 500));
        return flow.full && execution.log.bytes.stdout === before;
      },
      30_000,
      'the flow meter to be full and the child to stall',
    );
    expect(execution.state).toBe('running');
    expect(execution.log.bytes.stdout).toBeLessThan(800 * 60_000);
  }

  it('reports a timeout as a failure and kills the whole group', async () => {
    const client = await connect();
    const { id, pgid } = await execute(client, { command: 'sleep 30 & sleep 30; wait', timeout: 1 });
    await waitFor(() => listGroupMembers(pgid).length >= 3, 5_000, 'three members');
    const done = await completed(client, id);
    expect(done.params.status).toBe('failed');
    expect(done.params.error).toMatch(/timed out after 1 s/);
    expect(done.params.exit_code).toBeLessThan(0);
    const error = await client.notification('process.error', (p) => p.id === id);
    expect(error.params.error).toMatch(/timed out/);
    expect(listGroupMembers(pgid)).toEqual([]);
  });
});

describe('original protocol: control', () => {
  it('pauses (state T), resumes and cancels a counting loop; cancel is followed by process.completed', async () => {
    const client = await connect();
    const { id, pid, pgid } = await execute(client, { command: COUNTER });
    await waitFor(() => client.text(id, 'stdout').split('\n').length > 3, 5_000, 'counting');

    expect((await client.request('control', { type: 'PAUSE' })).result).toMatchObject({ status: 'paused' });
    expect((await client.notification('process.paused', (p) => p.id === id)).params).toMatchObject({ status: 'paused', pid, pgid });
    const execution = server!.engine.executions.find(id);
    await waitFor(() => isStopped(execution), 3_000, 'group stopped');
    // PAUSE is idempotent, as in the original
    expect((await client.request('control', { type: 'PAUSE' })).result).toMatchObject({ status: 'paused' });
    const frozen = client.text(id, 'stdout').length;
    await new Promise((r) => setTimeout(r, 400));
    expect(client.text(id, 'stdout').length).toBe(frozen);

    expect((await client.request('control', { type: 'RESUME' })).result).toMatchObject({ status: 'resumed' });
    await client.notification('process.resumed', (p) => p.id === id);
    await waitFor(() => client.text(id, 'stdout').length > frozen, 5_000, 'counting again');
    expect(isStopped(execution)).toBe(false);

    expect((await client.request('control', { type: 'CANCEL' })).result).toMatchObject({ status: 'canceled' });
    await client.notification('process.canceled', (p) => p.id === id);
    const done = await completed(client, id);
    expect(done.params).toMatchObject({ status: 'failed', error: 'canceled', pid, pgid });
    expect(listGroupMembers(pgid)).toEqual([]);
    // the numbers arrived whole and in order, one line each
    const numbers = client.lines(id).map((l) => Number(l.text));
    expect(numbers).toEqual(numbers.map((_, i) => i));
  });

  it('cancel escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const client = await connect();
    const { id, pgid } = await execute(client, { command: `trap '' TERM; sh -c "trap '' TERM; sleep 60" & echo ready; wait` });
    await client.notification('process.output', (p) => p.id === id && p.data === 'ready\n');
    await waitFor(() => listGroupMembers(pgid).length >= 3, 5_000, 'members');
    await client.request('control', { type: 'CANCEL' });
    const done = await completed(client, id);
    expect(done.params).toMatchObject({ status: 'failed', exit_code: -9, signal: 'SIGKILL' });
    expect(listGroupMembers(pgid)).toEqual([]);
  });

  it('runs two commands at once and controls each by id; without id, the most recent one', async () => {
    const client = await connect();
    const a = await execute(client, { command: 'while :; do echo A; sleep 0.05; done' });
    const b = await execute(client, { command: 'while :; do echo B; sleep 0.05; done' });
    await waitFor(() => client.text(a.id, 'stdout').length > 0 && client.text(b.id, 'stdout').length > 0, 5_000, 'both');
    expect(client.text(a.id, 'stdout')).toMatch(/^(A\n)+$/);
    expect(client.text(b.id, 'stdout')).toMatch(/^(B\n)+$/);

    expect((await client.request('control', { type: 'PAUSE', id: a.id })).result).toMatchObject({ status: 'paused', id: a.id });
    await waitFor(() => isStopped(server!.engine.executions.find(a.id)), 3_000, 'A stopped');
    const bBefore = client.text(b.id, 'stdout').length;
    await waitFor(() => client.text(b.id, 'stdout').length > bBefore, 3_000, 'B still running');
    expect(isStopped(server!.engine.executions.find(b.id))).toBe(false);

    // no id: the most recently started process (B)
    expect((await client.request('control', { type: 'CANCEL' })).result).toMatchObject({ status: 'canceled', id: b.id });
    await completed(client, b.id);
    expect(listGroupMembers(a.pgid).length).toBeGreaterThan(0);
    // a unique prefix works too, and a paused process can be canceled
    await client.request('control', { type: 'RESUME', id: a.id.slice(0, 8) });
    await client.request('control', { type: 'CANCEL', id: a.id });
    await completed(client, a.id);
    expect(listGroupMembers(a.pgid)).toEqual([]);

    const unknown = await client.request('control', { type: 'PAUSE', id: 'no-such-process' });
    expect(unknown.error?.code).toBe(-32002);
    const finished = await client.request('control', { type: 'PAUSE', id: a.id });
    expect(finished.error?.code).toBe(-32002);
  });

  it('does not let one connection control the processes of another', async () => {
    const owner = await connect();
    const other = await connect();
    const { id, pgid } = await execute(owner, { command: 'sleep 60' });
    expect((await other.request('control', { type: 'CANCEL', id })).error?.code).toBe(-32002);
    expect((await other.request('control', { type: 'CANCEL' })).error?.code).toBe(-32002);
    expect(listGroupMembers(pgid).length).toBe(1);
  });
});

describe('original protocol: errors', () => {
  it('answers bad requests with the original codes and keeps the connection', async () => {
    const client = await connect();
    expect((await client.request('no_such_method')).error).toMatchObject({ code: -32601, message: 'Unknown method: no_such_method' });
    expect((await client.request('execute', { command: '' })).error?.code).toBe(-32001);
    expect((await client.request('execute', { command: '   ' })).error?.code).toBe(-32001);
    expect((await client.request('execute', {})).error?.code).toBe(-32602);
    expect((await client.request('execute', { command: 'true', timeout: -1 })).error?.code).toBe(-32602);
    expect((await client.request('execute', { command: 'true', env: { A: 1 } })).error?.code).toBe(-32602);
    expect((await client.request('control', { type: 'PAUSE' })).error?.code).toBe(-32002);
    expect((await client.request('control', { type: 'STOP' })).error?.code).toBe(-32602);

    // invalid JSON and JSON that is not an object: an error with id null, and the connection lives
    for (const [frame, code] of [
      ['{not json', -32700],
      ['42', -32600],
      ['"text"', -32600],
      ['null', -32600],
      ['[{"jsonrpc":"2.0","method":"hook_status","id":1}]', -32600],
      ['{"jsonrpc":"2.0","id":5}', -32600],
    ] as const) {
      const from = client.messages.length;
      client.sendRaw(frame);
      const reply = await client.waitFor((m) => m.error !== undefined, 5_000, `error for ${frame}`, from);
      expect(reply.error!.code, frame).toBe(code);
    }
    expect(client.open).toBe(true);
    const { id } = await execute(client, { command: 'echo alive' });
    await completed(client, id);
    expect(client.text(id, 'stdout')).toBe('alive\n');
  });

  it('refuses a connection over the session limit with -32003, then close 1008', async () => {
    await connect({ maxSessions: 1 });
    const second = await LegacyClient.connect(server!.url);
    clients.push(second);
    const error = await second.waitFor((m) => m.error !== undefined, 5_000, 'session limit error');
    expect(error.error!.code).toBe(-32003);
    expect(second.messages.some((m) => m.method === 'connected')).toBe(false);
    expect((await second.closed).code).toBe(1008);
  });

  it('counts against the per-connection execution limit like any session', async () => {
    const client = await connect({ maxExecutionsPerSession: 1 });
    const { id } = await execute(client, { command: 'sleep 60' });
    const refused = await client.request('execute', { command: 'true' });
    expect(refused.error).toMatchObject({ code: -32602, data: { code: 'LIMIT_REACHED' } });
    await client.request('control', { type: 'CANCEL', id });
    await completed(client, id);
  });
});

describe('original protocol: hooks', () => {
  const block = fileURLToPath(new URL('../fixtures/hooks/block.sh', import.meta.url));
  const hooks = {
    preExecute: [
      { argv: [block], match: '^touch ' },
      { command: 'sleep 3', match: '^echo slow' },
    ],
  };

  it('reports the configured hooks in hook_status, and a command a hook refuses as -32001', async () => {
    const client = await connect({ hooks });
    const status = await client.request('hook_status');
    expect(status.result).toMatchObject({ enabled: true, count: 2 });
    expect(status.result.preExecute).toHaveLength(2);
    const refused = await client.request('execute', { command: 'touch /tmp/never' });
    expect(refused.error).toMatchObject({ code: -32001, data: { code: 'BLOCKED_BY_HOOK' } });
    expect(refused.error!.message).toMatch(/not allowed/);
  });

  it('answers other messages while a preExecute hook runs; control without id waits for that execute', async () => {
    const client = await connect({ hooks });
    const first = await execute(client, { command: 'sleep 60' });
    const from = client.messages.length;
    client.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'slow', method: 'execute', params: { command: 'echo slow; sleep 60' } }));
    const paused = await client.request('control', { type: 'PAUSE', id: first.id });
    expect(paused.result).toMatchObject({ status: 'paused', id: first.id });
    // answered while the slow execute was still in its hook
    expect(client.messages.slice(from).some((m) => m.id === 'slow')).toBe(false);
    const canceled = await client.request('control', { type: 'CANCEL' });
    const slow = await client.waitFor((m) => m.id === 'slow', 5_000, 'slow execute');
    groups.add(slow.result.pgid);
    expect(canceled.result).toMatchObject({ status: 'canceled', id: slow.result.id });
    await completed(client, slow.result.id);
    await client.request('control', { type: 'CANCEL', id: first.id });
    await completed(client, first.id);
  });
});
