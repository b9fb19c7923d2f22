// Timers driven by the test (Timers of DeadlineClock and IdleTimer): time moves only when `advance` is called.
import type { Timers } from '../../src/processes/deadline-clock.js';

export interface ManualTimers extends Timers {
  /** Move time forward, firing every timer that falls due, in order. */
  advance(ms: number): void;
}

export function manualTimers(): ManualTimers {
  let now = 0;
  let pending: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const entry = { at: now + ms, fn };
      pending.push(entry);
      return entry;
    },
    clearTimeout: (h) => {
      pending = pending.filter((p) => p !== h);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = pending.filter((p) => p.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        pending = pending.filter((p) => p !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
  };
}
