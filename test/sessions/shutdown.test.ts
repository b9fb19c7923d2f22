// Graceful shutdown of the real binary: every group dies (running, paused, detached), calls answer, the server exits.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { alive, eventually } from '../helpers/proc.js';
import { callTool, connectWs, structured, waitFor } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';

let proc: ServerProcess | undefined;
let dataDir: string | undefined;
afterEach(() => {
  proc?.kill();
  proc = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

/** Every record file in the data dir: id -> the record's fields the tests look at. */
function recordsOnDisk(
  dir: string,
): Map<string, { state: string; terminationReason: string | null; signal: string | null; endedAt: string | null }> {
  const responses = join(dir, 'responses');
  const out = new Map<string, { state: string; terminationReason: string | null; signal: string | null; endedAt: string | null }>();
  for (const f of readdirSync(responses).filter((n) => n.endsWith('.json'))) {
    const r = JSON.parse(readFileSync(join(responses, f), 'utf8')) as {
      id: string;
      state: string;
      terminationReason: string | null;
      signal: string | null;
      endedAt: string | null;
    };
    out.set(r.id, r);
  }
  return out;
}

describe('shutdown', () => {
  it('SIGTERM terminates running, paused and detached groups, answers in-flight calls and exits 0 in time', async () => {
    const graceMs = 1_000;
    proc = await spawnServer(['--grace-ms', String(graceMs)]);
    const client = await connectWs(proc.url);
    const paused = structured(await callTool(client, 'execute', { command: 'sleep 60 & sleep 60', background: true }));
    await callTool(client, 'control', { id: paused.id, action: 'pause' });
    const detached = structured(await callTool(client, 'execute', { command: 'sleep 60', detach: true }));
    const stubborn = structured(await callTool(client, 'execute', { command: `trap '' TERM; sleep 60 & sleep 60`, background: true }));
    const inflight = client.callTool({ name: 'execute', arguments: { command: 'sleep 60 & sleep 60; wait' } });
    let fgPgid = 0;
    await waitFor(async () => {
      const list = structured(await callTool(client, 'status', {})).executions as Array<{ pid: number; background: boolean }>;
      fgPgid = list.find((e) => !e.background)?.pid ?? 0;
      return fgPgid > 0;
    });
    const pgids = [paused.pgid, detached.pgid, stubborn.pgid, fgPgid];
    await waitFor(() => pgids.every((g) => listGroupMembers(g).length > 0), 5_000, 'all groups running');

    const started = Date.now();
    proc.child.kill('SIGTERM');
    const answer = structured((await inflight) as never);
    expect(answer).toMatchObject({ state: 'exited', terminationReason: 'shutdown' });
    const exit = await proc.exited;
    const took = Date.now() - started;
    expect(exit.code).toBe(0);
    expect(took).toBeLessThan(graceMs + 3_000); // grace + 1 s, with slack for a loaded machine
    for (const g of pgids) expect(listGroupMembers(g), `group ${g}`).toEqual([]);
    expect(proc.stderr()).toContain('shutting down');
    await client.close().catch(() => undefined);
  });

  it('a second signal kills every group at once and exits', async () => {
    proc = await spawnServer(['--grace-ms', '20000']);
    const client = await connectWs(proc.url);
    const stubborn = structured(await callTool(client, 'execute', { command: `trap '' TERM; sleep 60`, background: true }));
    await waitFor(() => listGroupMembers(stubborn.pgid).length >= 1, 5_000, 'group');
    proc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    expect(listGroupMembers(stubborn.pgid).length).toBeGreaterThan(0); // still in its grace period
    const started = Date.now();
    proc.child.kill('SIGINT');
    const exit = await proc.exited;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(exit.code).toBe(130);
    await waitFor(() => listGroupMembers(stubborn.pgid).length === 0, 3_000, 'group to die');
    await client.close().catch(() => undefined);
  });
  it('when the shutdown overruns shutdownTimeoutMs, the hard stop kills everything, writes every record final and exits 1', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cc-hard-stop-'));
    // The grace period is far longer than the shutdown may take: the hard stop comes in the middle of it.
    proc = await spawnServer(['--data-dir', dataDir, '--grace-ms', '30000', '--shutdown-timeout-ms', '1500']);
    const client = await connectWs(proc.url);
    const started: Array<{ id: string; pid: number; pgid: number }> = [];
    for (let i = 0; i < 4; i++) {
      started.push(structured(await callTool(client, 'execute', { command: `trap '' TERM; sleep 60 & sleep 60; wait`, background: true })));
    }
    await waitFor(() => started.every((e) => listGroupMembers(e.pgid).length >= 2), 10_000, 'every group with its two sleeps');
    // The first records are on disk ('running') before the signal.
    await waitFor(() => recordsOnDisk(dataDir!).size === started.length, 10_000, 'the first records');

    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit).toEqual({ code: 1, signal: null });
    expect(proc.stderr()).toContain('shutdown took too long');

    // No record is left 'running': each is final, ended by the shutdown, with the signal it got.
    const records = recordsOnDisk(dataDir);
    expect([...records.keys()].sort()).toEqual(started.map((e) => e.id).sort());
    for (const [id, r] of records) {
      expect({ id, state: r.state, reason: r.terminationReason, signal: r.signal }).toEqual({
        id,
        state: 'exited',
        reason: 'shutdown',
        signal: 'SIGKILL',
      });
      expect(r.endedAt).not.toBeNull();
    }
    // And nothing they started outlives the server (TERM was ignored; the hard stop's SIGKILL was not).
    expect(await eventually(() => started.every((e) => listGroupMembers(e.pgid).length === 0 && !alive(e.pid)), 5_000)).toBe(true);

    // The next server on this data dir lists them final too (from the summary the hard stop wrote).
    proc = await spawnServer(['--data-dir', dataDir]);
    const next = await connectWs(proc.url);
    // Past records load after the server listens: asked until it says its history is complete.
    let listing = structured(await callTool(next, 'status', { scope: 'history' }));
    for (const until = Date.now() + 10_000; listing.historyLoading && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 50));
      listing = structured(await callTool(next, 'status', { scope: 'history' }));
    }
    expect(listing.historyLoading).toBe(false);
    const history = listing.executions as Array<{ id: string; state: string }>;
    for (const e of started) expect(history.find((h) => h.id === e.id)?.state, e.id).toBe('exited');
    await next.close().catch(() => undefined);
    await client.close().catch(() => undefined);
  }, 60_000);
});
