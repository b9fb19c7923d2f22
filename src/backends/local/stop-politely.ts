// The stop local handles share: SIGTERM (with SIGCONT, so stopped members can act on it), a grace period, then SIGKILL.
import { setTimeout as delay } from 'node:timers/promises';

/** After SIGKILL, how long a stop waits for the members to be gone before it reports that something survived. */
export const KILL_WAIT_MS = 5_000;

/** What a polite stop needs of a handle. */
export interface Stoppable {
  /** False when nothing was left to receive the signal. */
  signal(sig: NodeJS.Signals): boolean;
  kill(): void;
  waitGone(timeoutMs?: number): Promise<boolean>;
}

/** TERM, wait `graceMs`, then KILL. Resolves true once everything is gone, false if something survived the kill. */
export async function stopPolitely(target: Stoppable, graceMs: number, killWaitMs = KILL_WAIT_MS): Promise<boolean> {
  if (!target.signal('SIGTERM')) return true;
  target.signal('SIGCONT');
  if (await target.waitGone(graceMs)) return true;
  target.kill();
  return target.waitGone(killWaitMs);
}

/** Polls `isAlive` every `pollMs` until it is false (true) or `timeoutMs` passes (false). */
export async function pollUntilGone(isAlive: () => boolean, timeoutMs: number, pollMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (isAlive()) {
    if (Date.now() >= until) return false;
    await delay(pollMs);
  }
  return true;
}
