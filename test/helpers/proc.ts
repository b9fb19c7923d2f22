// Process facts for tests, read straight from /proc so that a test does not trust the code it checks.
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** Whether `pid` is a live process: missing, zombie (Z) and dead (X) all count as gone. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain ") ": the state follows the last one.
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Polls `cond` every 20 ms until it holds (true) or `ms` pass (false); for asserting on the answer. */
export async function eventually(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await delay(20);
  }
  return true;
}
