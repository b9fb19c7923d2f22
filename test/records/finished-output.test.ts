// Finished executions leave their output windows to disk: memory holds none of it, reads give back every byte.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { numberedLines, readStdoutWithStatus } from '../helpers/numbered-output.js';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();

const MIB = 1024 * 1024;
const RUNS = 50;
/** 2 MiB of numbered 64-byte lines per run. */
const { command: COMMAND, expected: EXPECTED } = numberedLines(32_768);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A full garbage collection on demand, in this test process only (the usual way without --expose-gc). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The whole stdout of an execution through status cursors, every page served (from disk) with nothing evicted. */
function readAll(c: Client, id: string): Promise<string> {
  return readStdoutWithStatus(c, id, 512 * 1024, async (_pages, output) => {
    expect(output.evicted).toBe(false);
  });
}

describe('finished output', () => {
  it(`drops the memory window of ${RUNS} finished 2 MiB runs once their records are final, and status still returns every byte`, async () => {
    await fx.serve({ outputBufferBytes: 1 * MIB });
    const c = fx.client;
    const results: Array<{ id: string; stdout: string; exitCode: number }> = [];
    for (let i = 0; i < RUNS; i += 5) {
      const batch = await Promise.all(Array.from({ length: 5 }, () => callTool(c, 'execute', { command: COMMAND })));
      results.push(...batch.map((r) => structured(r)));
    }
    expect(results.map((r) => r.exitCode)).toEqual(Array(RUNS).fill(0));

    const engine = fx.server.engine;
    for (const r of results) await engine.records.settled(r.id);
    const executions = results.map((r) => engine.executions.lookup(r.id)!);
    // Still known in memory (status, control), but with no window: the logs on disk hold the output.
    expect(executions.every((e) => e !== undefined)).toBe(true);
    await waitFor(() => executions.every((e) => e.log.released), 10_000, 'every window to be released');
    expect(executions.reduce((n, e) => n + e.log.windowBytes, 0)).toBe(0);

    // Every byte comes back through status, and the inline text is what the execute result showed.
    for (const r of [results[0]!, results[RUNS - 1]!]) {
      expect(sha256(await readAll(c, r.id))).toBe(sha256(EXPECTED));
      const status = structured(await callTool(c, 'status', { id: r.id }));
      expect(sha256(status.stdout)).toBe(sha256(r.stdout));
      expect(status.stdoutBytes).toBe(EXPECTED.length);
    }
    // Scrollback reads from disk as well: the last chunks before the end.
    const last = results[RUNS - 1]!;
    const lastSeq = structured(await callTool(c, 'status', { id: last.id })).lastSeq as number;
    const back = structured(await callTool(c, 'status', { id: last.id, beforeSeq: lastSeq + 1, maxBytes: 64 * 1024 }));
    const tail = (back.output.chunks as Array<{ data: string }>).map((ch) => ch.data).join('');
    expect(tail.length).toBeGreaterThan(0);
    expect(EXPECTED.endsWith(tail)).toBe(true);
  }, 180_000);

  it('keeps the window of a run whose logs could not be saved (memory is then the only copy)', async () => {
    // A data directory that cannot be created (a file is in the way): records and logs fail, executions still run.
    const dataDir = fx.tempDir('cc-finished-');
    writeFileSync(join(dataDir, 'not-a-dir'), 'x');
    await fx.serve({ dataDir: join(dataDir, 'not-a-dir') });
    const r = structured(await callTool(fx.client, 'execute', { command: 'seq 1 1000' }));
    expect(r.exitCode).toBe(0);
    const e = fx.server.engine.executions.lookup(r.id)!;
    await fx.server.engine.records.settled(r.id);
    // The release would run in the same turn as the record settles: one macrotask later it has or never will.
    await new Promise((resolve) => setImmediate(resolve));
    expect(fx.server.engine.records.complete(r.id)).toBe(false);
    expect(e.log.released).toBe(false);
    expect(e.log.windowBytes).toBeGreaterThan(0);
    const s = structured(await callTool(fx.client, 'status', { id: r.id, sinceSeq: 0 }));
    expect((s.output.chunks as Array<{ data: string }>).map((ch) => ch.data).join('')).toContain('1000\n');
  });

  it('lets a finished run whose processes are gone drop its pipes, child process and inline text, and still shows the same result', async () => {
    await fx.serve();
    const c = fx.client;
    const engine = fx.server.engine;
    const gc = collector();
    // In the background so the handle's objects can be watched before the run ends.
    const { id } = structured(await callTool(c, 'execute', { command: 'sleep 0.3; seq 1 30000; echo done >&2', background: true }));
    const e = engine.executions.lookup(id)!;
    const handle = new WeakRef(e.handle);
    const pipe = new WeakRef(e.handle.stdout);
    await waitFor(() => e.state === 'exited', 30_000, 'the run to end');
    await engine.records.settled(id);
    await waitFor(() => e.log.retired, 10_000, 'the run to be retired');
    // Nothing but garbage holds them now.
    await waitFor(
      async () => {
        gc();
        await new Promise((r) => setImmediate(r));
        return handle.deref() === undefined && pipe.deref() === undefined;
      },
      20_000,
      'the handle and its pipe to be collected',
    );
    // What status shows is what the record says (and what the run showed), read from disk.
    const status = structured(await callTool(c, 'status', { id }));
    const record = engine.records.read(id);
    expect(status.stdout).toBe(record.stdout);
    expect(status.stderr).toBe('done\n');
    expect(status.truncated).toBe(true);
    expect(status.stdout.startsWith('1\n2\n3\n')).toBe(true);
    expect(status.stdout.endsWith('29999\n30000\n')).toBe(true);
    expect([status.exitCode, status.lingeringMembers, status.pid]).toEqual([0, 0, record.pid]);
    // Still listed for its session, and a signal finds nothing to reach.
    const listed = structured(await callTool(c, 'status', {})).executions as Array<{ id: string; state: string }>;
    expect(listed.find((x) => x.id === id)?.state).toBe('exited');
    const signal = await callTool(c, 'control', { id, action: 'signal', signal: 'SIGTERM' });
    expect(signal.isError).toBe(true);
  }, 60_000);

  it('keeps the handle of a finished run whose leader left a process running, which control can still kill', async () => {
    await fx.serve();
    const c = fx.client;
    const engine = fx.server.engine;
    const r = structured(await callTool(c, 'execute', { command: 'sleep 30 >/dev/null 2>&1 & echo started' }));
    expect(r.stdout).toBe('started\n');
    const e = engine.executions.lookup(r.id)!;
    await engine.records.settled(r.id);
    await new Promise((resolve) => setImmediate(resolve));
    expect(e.log.retired).toBe(false);
    expect(structured(await callTool(c, 'status', { id: r.id })).lingeringMembers).toBe(1);
    const killed = await callTool(c, 'control', { id: r.id, action: 'kill' });
    expect(killed.isError).toBeFalsy();
    await waitFor(() => !e.hasLiveProcesses(), 10_000, 'the lingering sleep to be gone');
  }, 60_000);
});
