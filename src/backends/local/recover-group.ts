// Recovery of a local process group that a dead server left behind: TERM (+CONT), grace, KILL, never a stranger.
import type { HandleDescription, RecoveryResult } from '../backend.js';
import { listGroupMembers, readProcStat } from './proc.js';

const POLL_MS = 25;

/**
 * Terminate what a dead server's execution left in its process group, but only if the pgid still names that
 * group: the leader's start time (description.startTicks) is checked, and members that started before it
 * are never counted. Resolves once the group is empty or SIGKILL was sent after `graceMs`.
 */
export async function recoverGroup(description: HandleDescription, graceMs: number): Promise<RecoveryResult> {
  const pgid = description.pgid;
  const startTicks = typeof description.startTicks === 'number' ? description.startTicks : null;
  if (!pgid || pgid <= 1) return { killed: false };
  const leader = readProcStat(pgid);
  // The pid was reused by an unrelated process: never touch it.
  if (leader && leader.startTicks !== startTicks) return { killed: false };
  const members = listGroupMembers(pgid).filter((m) => startTicks === null || m.startTicks >= startTicks);
  if (members.length === 0) return { killed: false };
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  signal('SIGCONT');
  await new Promise<void>((resolve) => {
    const until = Date.now() + graceMs;
    const poll = setInterval(() => {
      if (listGroupMembers(pgid).length === 0) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() > until) {
        signal('SIGKILL');
        clearInterval(poll);
        resolve();
      }
    }, POLL_MS);
  });
  return { killed: true };
}
