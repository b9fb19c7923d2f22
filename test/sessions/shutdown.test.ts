// Graceful shutdown of the real binary: every group dies (running, paused, detached), calls answer, the server exits.
import { afterEach, describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { callTool, connectWs, structured, waitFor } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';

let proc: ServerProcess | undefined;
afterEach(() => {
  proc?.kill();
  proc = undefined;
});

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
});
