// The idle timeout: fires after `idleMs` without output, and does not count time while the execution is paused.
import { REAL_TIMERS, type Timers } from './deadline-clock.js';

export class IdleTimer {
  private last: number;
  private timer: unknown;
  /** Quiet time already spent when paused; null while not paused. */
  private quietAtPause: number | null = null;
  private stopped = false;

  constructor(
    private readonly idleMs: number,
    private readonly onIdle: () => void,
    private readonly timers: Timers = REAL_TIMERS,
  ) {
    this.last = timers.now();
    this.schedule(idleMs);
  }

  /** Output arrived: the quiet period starts again. Cheap (no timer call): it runs for every chunk. */
  touch(): void {
    this.last = this.timers.now();
    if (this.quietAtPause !== null) this.quietAtPause = 0;
  }

  /** Stop counting quiet time (the execution is paused). */
  pause(): void {
    if (this.stopped || this.quietAtPause !== null) return;
    this.quietAtPause = this.timers.now() - this.last;
    this.clear();
  }

  /** Count again from where pause left off. */
  resume(): void {
    if (this.stopped || this.quietAtPause === null) return;
    this.last = this.timers.now() - this.quietAtPause;
    this.quietAtPause = null;
    this.schedule(this.idleMs - (this.timers.now() - this.last));
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.clear();
    this.timer = this.timers.setTimeout(() => this.fire(), Math.max(0, ms));
  }

  // Output since the timer was set only moves the deadline: check how long it has really been quiet.
  private fire(): void {
    this.timer = undefined;
    if (this.stopped || this.quietAtPause !== null) return;
    const quiet = this.timers.now() - this.last;
    if (quiet < this.idleMs) return this.schedule(this.idleMs - quiet);
    this.stopped = true;
    this.onIdle();
  }
}
