// control over the SDK's WebSocket client: pause/resume reach the whole group, cancel and kill leave nothing behind.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listGroupMembers, readProcStat } from '../../src/backends/local/proc.js';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer({ scope: 'file', config: { graceMs: 5_000 } });
const groups = fx.groups;

async function startBackground(command: string): Promise<{ id: string; pgid: number }> {
  const result = await callTool(fx.client, 'execute', { command, background: true });
  groups.addResult(result);
  const s = structured(result);
  return { id: s.id, pgid: s.pgid };
}

async function output(id: string): Promise<string> {
  const s = structured(await callTool(fx.client, 'status', { id, sinceSeq: 0 }));
  return (s.output.chunks as Array<{ data: string }>).map((c) => c.data).join('');
}

describe('control', () => {
  it('pause stops output and every member (state T, or a frozen cgroup); resume continues', async () => {
    const { id, pgid } = await startBackground('sh -c "while :; do echo tick; sleep 0.05; done" & while :; do echo tock; sleep 0.05; done');
    await waitFor(async () => (await output(id)).includes('tick'), 5_000, 'first output');
    await waitFor(() => listGroupMembers(pgid).length >= 3, 5_000, 'three members');
    const paused = await callTool(fx.client, 'control', { id, action: 'pause' });
    expect(structured(paused).state).toBe('paused');
    // Under cgroup containment pause is a freeze (no SIGSTOP a shell could see); else SIGSTOP to the group.
    const cgroup = structured(paused).cgroup as string | null;
    if (cgroup) expect(readFileSync(join(cgroup, 'cgroup.events'), 'utf8')).toContain('frozen 1');
    else await waitFor(() => listGroupMembers(pgid).every((m) => m.state === 'T'), 2_000, 'all members stopped');
    const before = (await output(id)).length;
    await new Promise((r) => setTimeout(r, 300));
    expect((await output(id)).length).toBe(before);
    // invalid transition: pausing a paused execution
    expect(structured(await callTool(fx.client, 'control', { id, action: 'pause' })).error.code).toBe('INVALID_STATE');
    expect(structured(await callTool(fx.client, 'control', { id, action: 'resume' })).state).toBe('running');
    await waitFor(async () => (await output(id)).length > before, 2_000, 'output to continue');
    if (cgroup) expect(readFileSync(join(cgroup, 'cgroup.events'), 'utf8')).toContain('frozen 0');
    else expect(listGroupMembers(pgid).some((m) => m.state !== 'T')).toBe(true);
    expect(structured(await callTool(fx.client, 'control', { id, action: 'resume' })).error.code).toBe('INVALID_STATE');
    const cancelled = structured(await callTool(fx.client, 'control', { id, action: 'cancel' }));
    expect(cancelled).toMatchObject({ state: 'exited', terminationReason: 'cancel' });
  });

  it('cancel kills grandchildren, also when the execution is paused', async () => {
    const { id, pgid } = await startBackground('bash -c "sleep 60 & sleep 60 & wait" & sleep 60 & wait');
    await waitFor(() => listGroupMembers(pgid).length >= 5, 5_000, 'grandchildren');
    await callTool(fx.client, 'control', { id, action: 'pause' });
    const res = structured(await callTool(fx.client, 'control', { id, action: 'cancel' }));
    expect(res).toMatchObject({ state: 'exited', terminationReason: 'cancel' });
    expect(listGroupMembers(pgid)).toEqual([]);
  });

  it('kills a child that ignores SIGTERM after the grace period', async () => {
    const { id, pgid } = await startBackground(`trap '' TERM; echo ready; sh -c "trap '' TERM; sleep 60" & sleep 60`);
    await waitFor(async () => (await output(id)).includes('ready'), 5_000, 'ready');
    await waitFor(() => listGroupMembers(pgid).length >= 3, 5_000, 'members');
    const started = Date.now();
    const res = structured(await callTool(fx.client, 'control', { id, action: 'cancel', graceMs: 300 }));
    const took = Date.now() - started;
    expect(res).toMatchObject({ state: 'exited', terminationReason: 'cancel', signal: 'SIGKILL' });
    expect(took).toBeGreaterThanOrEqual(250);
    expect(listGroupMembers(pgid)).toEqual([]);
  });

  it('signals the group after the leader exited while its children live on', async () => {
    const { id, pgid } = await startBackground('sleep 60 >/dev/null 2>&1 & echo started');
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id })).state === 'exited', 5_000, 'leader exit');
    const status = structured(await callTool(fx.client, 'status', { id }));
    expect(status.groupAlive).toBe(true);
    const member = listGroupMembers(pgid)[0]!;
    expect(readProcStat(member.pid)?.pgid).toBe(pgid);
    await callTool(fx.client, 'control', { id, action: 'signal', signal: 'TERM' });
    await waitFor(() => listGroupMembers(pgid).length === 0, 3_000, 'lingering child to die');
  });

  it('kill sends SIGKILL at once; signal accepts names; bad ids and signals get codes', async () => {
    const { id } = await startBackground('trap "echo got-usr1" USR1; while :; do sleep 0.05; done');
    await new Promise((r) => setTimeout(r, 200));
    await callTool(fx.client, 'control', { id, action: 'signal', signal: 'SIGUSR1' });
    await waitFor(async () => (await output(id)).includes('got-usr1'), 3_000, 'trap output');
    expect(structured(await callTool(fx.client, 'control', { id, action: 'signal', signal: 'SIGNOPE' })).error.code).toBe('INVALID_INPUT');
    expect(structured(await callTool(fx.client, 'control', { id, action: 'signal' })).error.code).toBe('INVALID_INPUT');
    const killed = structured(await callTool(fx.client, 'control', { id: id.slice(0, 8), action: 'kill' }));
    expect(killed).toMatchObject({ state: 'exited', terminationReason: 'kill', signal: 'SIGKILL' });
    expect(structured(await callTool(fx.client, 'control', { id, action: 'pause' })).error.code).toBe('INVALID_STATE');
    expect(structured(await callTool(fx.client, 'control', { id: 'no-such-id', action: 'kill' })).error.code).toBe('NOT_FOUND');
    expect(structured(await callTool(fx.client, 'status', { id: '00000000-0000' })).error.code).toBe('NOT_FOUND');
  });

  it('pausing stops the deadline clock', async () => {
    const result = await callTool(fx.client, 'execute', {
      command: 'for i in $(seq 20); do sleep 0.1; done',
      background: true,
      timeoutMs: 1_000,
    });
    groups.addResult(result);
    const { id } = structured(result);
    await new Promise((r) => setTimeout(r, 300));
    await callTool(fx.client, 'control', { id, action: 'pause' });
    const during = structured(await callTool(fx.client, 'status', { id })).timeout;
    await new Promise((r) => setTimeout(r, 800));
    const later = structured(await callTool(fx.client, 'status', { id })).timeout;
    expect(later.elapsedBudgetMs).toBe(during.elapsedBudgetMs);
    expect(later.projectedDeadline).toBeNull();
    await callTool(fx.client, 'control', { id, action: 'resume' });
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id })).state === 'exited', 5_000, 'exit');
    // 2 s of steps exceed the 1 s budget: the timeout fires after ~1 s of running time, i.e. ~1.8 s of wall time
    const final = structured(await callTool(fx.client, 'status', { id }));
    expect(final.terminationReason).toBe('timeout');
    expect(final.durationMs).toBeGreaterThan(1_700);
  });
});
