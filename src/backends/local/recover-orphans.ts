// Stops what a dead server's execution left running: by its cgroup when it had one (no pid-reuse risk),
// else by its process group (start time checked) and by the execution-id marker in every process's environment.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { CgroupTree } from './cgroup-tree.js';

/** The variable every command (and hook) gets; recovery finds an execution's processes by it. */
export const EXECUTION_ID_VAR = 'CC_EXECUTOR_EXECUTION_ID';

/** What is known of a dead server's execution (a record's or journal entry's description). */
export interface OrphanDescription {
  executionId: string;
  /** Its cgroup directory, when it ran under cgroup containment. */
  cgroup?: string | null;
  pgid?: number | null;
  /** Start ticks of the group leader (names the group even after the pgid could have been reused). */
  pgidStartTicks?: number | null;
  /** No process of this execution started before this tick (the journal's intent time). */
  sinceTicks?: number | null;
}

const POLL_MS = 25;

interface Proc {
  pid: number;
  state: string;
  pgid: number;
  startTicks: number;
}

function readStat(pid: number): Proc | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: rest[0] ?? '?', pgid: Number(rest[2]), startTicks: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

function livePids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Live processes that belong to the execution: in its process group (leader start time checked, members
 * started no earlier than the leader), or carrying `CC_EXECUTOR_EXECUTION_ID=<id>` in their environment
 * (a `setsid` or double-forked child keeps it) and started no earlier than sinceTicks.
 */
export function findOrphanProcesses(d: OrphanDescription): Proc[] {
  const marker = Buffer.from(`\0${EXECUTION_ID_VAR}=${d.executionId}\0`);
  const groupOk = (() => {
    if (!d.pgid || d.pgid <= 1 || d.pgidStartTicks == null) return false;
    const leader = readStat(d.pgid);
    return !leader || leader.startTicks === d.pgidStartTicks; // a reused leader pid: never that group
  })();
  const found: Proc[] = [];
  for (const pid of livePids()) {
    if (pid === process.pid) continue;
    const p = readStat(pid);
    if (!p || p.state === 'Z' || p.state === 'X') continue;
    if (groupOk && p.pgid === d.pgid && p.startTicks >= (d.pgidStartTicks ?? 0)) {
      found.push(p);
      continue;
    }
    if (d.executionId === '' || (d.sinceTicks == null && d.pgidStartTicks == null)) continue;
    if (p.startTicks < (d.sinceTicks ?? d.pgidStartTicks ?? 0)) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    // Prefix with \0 so the first variable matches too.
    if (Buffer.concat([Buffer.from([0]), environ]).includes(marker)) found.push(p);
  }
  return found;
}

/**
 * Stop everything a dead server's execution left: TERM (+CONT), up to graceMs, then KILL.
 * Returns how many processes were alive (0: nothing to do).
 */
export async function recoverOrphans(d: OrphanDescription, graceMs: number, tree?: CgroupTree): Promise<number> {
  const cg = d.cgroup && tree ? tree.cgroupAt(d.cgroup) : undefined;
  if (cg) {
    // The cgroup holds everything it started; no pid can be a stranger's.
    const n = cg.members().length;
    if (cg.populated()) {
      cg.kill();
      await cg.waitEmpty(Math.max(graceMs, 1_000));
    }
    cg.remove();
    return n;
  }
  const first = findOrphanProcesses(d);
  if (first.length === 0) return 0;
  const send = (procs: Proc[], sig: NodeJS.Signals) => {
    for (const p of procs) {
      const now = readStat(p.pid);
      if (!now || now.startTicks !== p.startTicks) continue; // exited (and maybe reused) since the scan
      try {
        process.kill(p.pid, sig);
      } catch {
        // gone
      }
    }
  };
  send(first, 'SIGTERM');
  send(first, 'SIGCONT');
  const until = Date.now() + graceMs;
  let left = first;
  while (left.length > 0 && Date.now() < until) {
    await delay(POLL_MS);
    left = findOrphanProcesses(d);
  }
  // Rescan between rounds: a member may have forked during the grace period.
  for (let round = 0; round < 10 && left.length > 0; round++) {
    send(left, 'SIGKILL');
    await delay(POLL_MS);
    left = findOrphanProcesses(d);
  }
  return first.length;
}
