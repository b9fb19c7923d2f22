// Shutdown of the real binary with hundreds of running executions: in time, exit 0, every record final, nothing left.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive } from '../helpers/proc.js';
import { callTool, connectWs, structured } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';

/** Enough that per-execution costs that grow with the count (a /proc scan per group, polling) would show. */
const EXECUTIONS = 400;
const START_BATCH = 25;

let proc: ServerProcess | undefined;
let dataDir: string | undefined;
afterEach(() => {
  proc?.kill();
  proc = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

describe('shutdown at scale', () => {
  it(`SIGTERM with ${EXECUTIONS} running background executions exits 0 within grace + 3 s, with every record final and nothing alive`, async () => {
    const graceMs = 5_000; // the default
    dataDir = mkdtempSync(join(tmpdir(), 'cc-shutdown-scale-'));
    const limit = String(EXECUTIONS + 10);
    proc = await spawnServer([
      '--data-dir',
      dataDir,
      '--grace-ms',
      String(graceMs),
      '--max-executions',
      limit,
      '--max-executions-per-session',
      limit,
    ]);
    const client = await connectWs(proc.url);
    const started: Array<{ id: string; pid: number; cgroup: string | null }> = [];
    for (let i = 0; i < EXECUTIONS; i += START_BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(START_BATCH, EXECUTIONS - i) }, () =>
          callTool(client, 'execute', { argv: ['sleep', '300'], background: true }),
        ),
      );
      for (const r of batch) started.push(structured(r));
    }
    expect(started.filter((e) => alive(e.pid))).toHaveLength(EXECUTIONS);

    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    const took = Date.now() - t0;
    expect(exit).toEqual({ code: 0, signal: null });
    // Grace + 1 s is the promise; 2 s more of slack for a loaded 2-core machine (the bench has the figure).
    expect(took).toBeLessThan(graceMs + 3_000);

    // Every record on disk is final: ended by the shutdown, none left 'running'.
    const responses = join(dataDir, 'responses');
    const records = readdirSync(responses)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(responses, f), 'utf8')) as { id: string; state: string; terminationReason: string | null });
    expect(records).toHaveLength(EXECUTIONS);
    const notFinal = records.filter((r) => r.state !== 'exited' || r.terminationReason !== 'shutdown');
    expect(notFinal).toEqual([]);
    expect(new Set(records.map((r) => r.id))).toEqual(new Set(started.map((e) => e.id)));

    // Nothing it started is alive, no cgroup is left, and the crash journal is empty (nothing to recover).
    expect(started.filter((e) => alive(e.pid)).map((e) => e.pid)).toEqual([]);
    expect(started.filter((e) => e.cgroup !== null && existsSync(e.cgroup)).map((e) => e.cgroup)).toEqual([]);
    expect(readdirSync(join(dataDir, 'journal'))).toEqual([]);
    await client.close().catch(() => undefined);
  }, 180_000);
});
