// Execution records: written at start and end, byte-exact output from the logs, retention, recovery after SIGKILL.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { alive } from '../helpers/proc.js';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';

const fx = useTestServer();
const groups = fx.groups;

let proc: ServerProcess | undefined;
afterEach(async () => {
  proc?.kill();
  proc = undefined;
});

function recordFiles(dataDir: string): string[] {
  const dir = join(dataDir, 'responses');
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => join(dir, f))
    : [];
}

function readRecord(file: string): any {
  const text = readFileSync(file, 'utf8');
  expect(text.startsWith('{\n  "')).toBe(true); // prettified with 2 spaces
  return JSON.parse(text);
}

describe('execution records', () => {
  it('writes a record when an execution starts and again when it ends, with the documented fields', async () => {
    const dataDir = fx.tempDir('cc-rec-');
    await fx.start({ dataDir });
    const c = await fx.connect();
    // The command ends only when the test says so: a loaded machine cannot let it finish before the first record is read.
    const go = join(dataDir, 'go');
    const command = `echo out; echo err >&2; sleep 0.5; while [ ! -e ${go} ]; do sleep 0.05; done; exit 3`;
    const started = structured(
      await callTool(c, 'execute', {
        command,
        env: { API_TOKEN: 'hunter2', PLAIN: 'visible' },
        background: true,
      }),
    );
    groups.add(started.pgid);
    await waitFor(() => recordFiles(dataDir).length === 1, 5_000, 'first record');
    const file = recordFiles(dataDir)[0]!;
    expect(file).toMatch(/responses\/\d{8}T\d{6}\.\d{3}Z_[0-9a-f-]{36}\.json$/);
    expect(readRecord(file)).toMatchObject({ id: started.id, state: 'running', pid: started.pid, pgid: started.pgid });
    writeFileSync(go, '');
    await waitFor(() => readRecord(file).state === 'exited', 5_000, 'final record');
    const r = readRecord(file);
    expect(r).toMatchObject({
      version: 1,
      id: started.id,
      transport: 'websocket',
      command,
      exitCode: 3,
      signal: null,
      terminationReason: null,
      stdout: 'out\n',
      stderr: 'err\n',
      stdoutBytes: 4,
      stderrBytes: 4,
      env: { API_TOKEN: '[redacted]', PLAIN: 'visible' },
      saveErrors: [],
    });
    expect(r.timeout).toMatchObject({ requestedMs: 600_000, multiplier: 1 });
    expect(r.loadAtStart).toHaveProperty('multiplier');
    expect(r.durationMs).toBeGreaterThanOrEqual(450);
    expect(readFileSync(r.logs.stdout, 'utf8')).toBe('out\n');
    expect(readFileSync(r.logs.stderr, 'utf8')).toBe('err\n');
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });

  it('serves 50 MB back byte-exact through status cursors, most of it from the log files', async () => {
    await fx.start();
    const c = await fx.connect();
    const command = 'f=$(mktemp); head -c 37500000 /dev/urandom | base64 -w 120 > $f; sha256sum < $f >&2; cat $f; rm -f $f';
    const res = structured(await callTool(c, 'execute', { command, timeoutMs: 120_000 }));
    groups.add(res.pgid);
    expect(res.exitCode).toBe(0);
    expect(res.stdoutBytes).toBeGreaterThan(50_000_000);
    const hash = createHash('sha256');
    let since = 0;
    let bytes = 0;
    for (;;) {
      const s = structured(await callTool(c, 'status', { id: res.id, sinceSeq: since, maxBytes: 8 * 1024 * 1024 }));
      expect(s.output.evicted).toBe(false);
      for (const ch of s.output.chunks) {
        if (ch.stream !== 'stdout') continue;
        hash.update(ch.data);
        bytes += Buffer.byteLength(ch.data);
      }
      since = s.output.nextSeq;
      if (!s.output.more) break;
    }
    expect(bytes).toBe(res.stdoutBytes);
    expect(hash.digest('hex')).toBe(res.stderr.split(' ')[0]);
    // and any byte range of one stream
    const range = structured(await callTool(c, 'status', { id: res.id, stream: 'stdout', byteOffset: 121 * 1000, maxBytes: 121 }));
    expect(range.range.data).toMatch(/^[A-Za-z0-9+/=]{120}\n$/);
  }, 120_000);

  it('prunes the oldest records first and never a running execution', async () => {
    const dataDir = fx.tempDir('cc-rec-');
    // No protected time: this test is about the order of removal (test/records/retention.test.ts covers the protection).
    await fx.start({ dataDir, maxRecords: 3, retentionProtectMs: 0 });
    const c = await fx.connect();
    const long = structured(await callTool(c, 'execute', { argv: ['sleep', '30'], background: true }));
    groups.add(long.pgid);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = structured(await callTool(c, 'execute', { argv: ['echo', String(i)] }));
      ids.push(r.id);
      await new Promise((r) => setTimeout(r, 20));
    }
    await fx.server.engine.records.flush();
    const kept = recordFiles(dataDir).map((f) => readRecord(f).id);
    expect(kept).toHaveLength(3);
    expect(kept).toContain(long.id); // the oldest, but running
    expect(kept).toEqual(expect.arrayContaining([ids[3], ids[4]]));
    const history = structured(await callTool(c, 'status', { scope: 'history' })).executions.map((e: { id: string }) => e.id);
    expect(history).toEqual([ids[4], ids[3], long.id]);
  });

  it('keeps running and streaming when the data directory is unusable, and says what was not saved', async () => {
    const dir = fx.tempDir('cc-rec-');
    writeFileSync(join(dir, 'not-a-dir'), 'x');
    await fx.start({ dataDir: join(dir, 'not-a-dir') });
    const c = await fx.connect();
    const r = structured(await callTool(c, 'execute', { command: 'echo still works', waitMs: 5_000 }));
    expect(r).toMatchObject({ exitCode: 0, stdout: 'still works\n' });
    const s = structured(await callTool(c, 'status', { id: r.id }));
    expect(s.output.chunks[0].data).toBe('still works\n');
    expect(s.saveErrors.join(' ')).toMatch(/not-a-dir/);
  });

  it('marks a record lost after the server is SIGKILLed mid-run, terminates the orphaned group, and serves history after restart', async () => {
    const dataDir = fx.tempDir('cc-rec-');
    // Spawned by the server itself, as a PTY command always is: nothing kills it when the server dies, the restart does.
    proc = await spawnServer(['--data-dir', dataDir], { CC_EXECUTOR_FORK_SERVER: 'false' });
    let c = await fx.connect(proc.url);
    const done = structured(await callTool(c, 'execute', { command: 'echo finished-before' }));
    const orphan = structured(await callTool(c, 'execute', { command: 'echo partial; sleep 60', background: true }));
    groups.add(orphan.pgid);
    await waitFor(() => recordFiles(dataDir).some((f) => readRecord(f).id === orphan.id), 5_000, 'record of the running execution');
    await new Promise((r) => setTimeout(r, 200));
    await c.close();
    proc.child.kill('SIGKILL');
    await proc.exited;
    expect(listGroupMembers(orphan.pgid).length).toBeGreaterThan(0); // survived its server

    const restarted = await spawnServer(['--data-dir', dataDir], { CC_EXECUTOR_FORK_SERVER: 'false' });
    proc = restarted;
    await waitFor(() => listGroupMembers(orphan.pgid).length === 0, 10_000, 'orphaned group to be terminated');
    // Records are read after the server listens (in the background): the line comes once they are.
    const loadedLine = /marked 1 lost; dead servers left 1 execution\(s\), 1 still running \(killed\)/;
    await waitFor(() => loadedLine.test(restarted.stderr()), 10_000, 'records loaded');
    const file = recordFiles(dataDir).find((f) => readRecord(f).id === orphan.id)!;
    const record = readRecord(file);
    expect(record.state).toBe('lost');
    expect(record.lostReason).toMatch(/still alive and has been killed/);

    c = await fx.connect(proc.url);
    const history = structured(await callTool(c, 'status', { scope: 'history', query: 'echo' })).executions;
    expect(history.map((e: { id: string; state: string }) => [e.id, e.state])).toEqual([
      [orphan.id, 'lost'],
      [done.id, 'exited'],
    ]);
    expect(structured(await callTool(c, 'status', { scope: 'history', state: 'lost' })).executions).toHaveLength(1);
    const past = structured(await callTool(c, 'status', { id: done.id.slice(0, 6) }));
    expect(past).toMatchObject({ id: done.id, state: 'exited', exitCode: 0 });
    expect(past.output.chunks.map((ch: { data: string }) => ch.data).join('')).toBe('finished-before\n');
    const lost = structured(await callTool(c, 'status', { id: orphan.id }));
    expect(lost.output.chunks.map((ch: { data: string }) => ch.data).join('')).toBe('partial\n');
  }, 40_000);

  it('kills what a SIGKILLed server was running at once (fork server), its setsid escape under cgroups, and marks it lost after restart', async () => {
    const dataDir = fx.tempDir('cc-rec-');
    proc = await spawnServer(['--data-dir', dataDir]);
    const c = await fx.connect(proc.url);
    const orphan = structured(await callTool(c, 'execute', { command: 'setsid sleep 60 & echo escaped $!; sleep 60', background: true }));
    groups.add(orphan.pgid);
    let escaped = 0;
    await waitFor(
      async () => {
        const out = structured(await callTool(c, 'status', { id: orphan.id, sinceSeq: 0 }));
        escaped = Number(/escaped (\d+)/.exec(out.output.chunks.map((ch: { data: string }) => ch.data).join(''))?.[1] ?? 0);
        return escaped > 0 && listGroupMembers(orphan.pgid).length >= 1;
      },
      10_000,
      'the group and the escape',
    );
    const underCgroup = typeof orphan.cgroup === 'string';
    await c.close();
    proc.child.kill('SIGKILL');
    await proc.exited;
    // Before any restart: the fork server saw its server go and killed the group; under cgroups the escape too.
    await waitFor(() => listGroupMembers(orphan.pgid).length === 0, 10_000, 'the orphaned group killed by the fork server');
    if (underCgroup) await waitFor(() => !alive(escaped), 10_000, 'the setsid escape killed with its cgroup');

    proc = await spawnServer(['--data-dir', dataDir]);
    await waitFor(() => /marked 1 lost/.test(proc!.stderr()), 10_000, 'records loaded');
    // Without a cgroup the escape is found by its execution-id marker at restart.
    await waitFor(() => !alive(escaped), 10_000, 'the setsid escape gone after restart');
    const record = readRecord(recordFiles(dataDir).find((f) => readRecord(f).id === orphan.id)!);
    expect(record.state).toBe('lost');
    expect(record.lostReason).toMatch(/server that ran it exited/);
  }, 40_000);
});
