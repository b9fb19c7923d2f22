// Recovery of a dead server's execution without a cgroup: by process group and by the execution-id marker.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { EXECUTION_ID_VAR, findOrphanProcesses, recoverOrphans } from '../../../src/backends/local/recover-orphans.js';
import { ticksNow } from '../../../src/records/execution-journal.js';
import { alive, eventually as waitFor } from '../../helpers/proc.js';

function stat(pid: number): { state: string; startTicks: number } | undefined {
  try {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { state: rest[0]!, startTicks: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

const started: ChildProcess[] = [];
const escapes: number[] = [];
afterEach(() => {
  // The group kill cannot reach the setsid child: it has a session and group of its own.
  const groups = started.splice(0).map((c) => -c.pid!);
  for (const target of [...groups, ...escapes.splice(0)]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** A command that leaves a setsid child (own session and group) and prints both pids. */
async function launch(id: string | null): Promise<{ leader: number; escaped: number }> {
  const script = 'setsid sh -c \'echo $$; exec sleep 300\' & trap "" TERM; sleep 300 & wait';
  const env = { ...process.env, ...(id ? { [EXECUTION_ID_VAR]: id } : {}) };
  const child = spawn('/bin/sh', ['-c', script], { detached: true, env, stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(child);
  const escaped = await new Promise<number>((r) => child.stdout.once('data', (d) => r(Number(String(d).trim()))));
  escapes.push(escaped);
  // The setsid child printed first; on a loaded machine the leader may not have forked its own sleep yet.
  const children = () => readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  if (!(await waitFor(() => children().length >= 2)))
    throw new Error(`the launched group never had both children: ${children().join(' ')}`);
  return { leader: child.pid!, escaped };
}

describe('recoverOrphans without a cgroup', () => {
  it('kills the group and a setsid child found by its execution-id marker, TERM-ignoring leader included', async () => {
    const id = randomUUID();
    const sinceTicks = ticksNow() - 1;
    const mine = await launch(id);
    const stranger = await launch(null);
    const other = await launch(randomUUID());
    const d = { executionId: id, pgid: mine.leader, pgidStartTicks: stat(mine.leader)!.startTicks, sinceTicks };
    expect(findOrphanProcesses(d).map((p) => p.pid)).toEqual(expect.arrayContaining([mine.leader, mine.escaped]));
    const n = await recoverOrphans(d, 300);
    expect(n).toBeGreaterThanOrEqual(3); // leader, its sleep, the setsid child
    expect(await waitFor(() => !alive(mine.leader) && !alive(mine.escaped))).toBe(true);
    for (const p of [stranger.leader, stranger.escaped, other.leader, other.escaped]) expect(alive(p)).toBe(true);
  });

  it('finds a run by its marker alone when the server died before noting its pgid', async () => {
    const id = randomUUID();
    const sinceTicks = ticksNow() - 1;
    const mine = await launch(id);
    expect(await recoverOrphans({ executionId: id, sinceTicks }, 2_000)).toBeGreaterThanOrEqual(3);
    expect(await waitFor(() => !alive(mine.leader) && !alive(mine.escaped))).toBe(true);
  });

  it('never kills a process that started before the execution was intended (a reused id or pid)', async () => {
    const id = randomUUID();
    const early = await launch(id);
    await delay(50);
    const sinceTicks = ticksNow() + 100; // the intent is "later" than every process above
    expect(await recoverOrphans({ executionId: id, sinceTicks }, 200)).toBe(0);
    expect(alive(early.leader) && alive(early.escaped)).toBe(true);
  });

  it('does nothing for a group whose leader pid now names another process', async () => {
    const stranger = await launch(null);
    const d = { executionId: randomUUID(), pgid: stranger.leader, pgidStartTicks: stat(stranger.leader)!.startTicks - 1 };
    expect(await recoverOrphans(d, 200)).toBe(0);
    expect(alive(stranger.leader)).toBe(true);
  });
});
