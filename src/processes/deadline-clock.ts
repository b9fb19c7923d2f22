// A kill deadline whose budget drains at 1/multiplier speed while the machine is loaded, and not at all while paused.
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface DeadlineSnapshot {
  requestedMs: number;
  /** Budget consumed so far (wall time divided by the multiplier in force at the time). */
  elapsedBudgetMs: number;
  remainingBudgetMs: number;
  multiplier: number;
  /** When the deadline fires if the multiplier stays as it is; null while paused or stopped. */
  projectedDeadline: string | null;
  /** Wall time granted beyond the requested budget because of load. */
  stretchedMs: number;
}

export class DeadlineClock {
  private consumed = 0;
  private wall = 0;
  private last: number;
  private paused = false;
  private stopped = false;
  private timer: unknown;

  constructor(
    private readonly budgetMs: number,
    private multiplier: number,
    private readonly onExpire: () => void,
    private readonly timers: Timers = REAL_TIMERS,
  ) {
    this.last = timers.now();
    this.schedule();
  }

  /** Fold the time since the last checkpoint into the budget at the multiplier that was in force. */
  private checkpoint(): void {
    const now = this.timers.now();
    if (!this.paused && !this.stopped) {
      const dt = now - this.last;
      this.wall += dt;
      this.consumed += dt / this.multiplier;
    }
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.paused || this.stopped) return;
    const remainingWall = Math.max(0, (this.budgetMs - this.consumed) * this.multiplier);
    this.timer = this.timers.setTimeout(() => this.fire(), Math.ceil(remainingWall));
  }

  private fire(): void {
    this.timer = undefined;
    this.checkpoint();
    // Timers can fire a hair early; only expire once the budget is really spent.
    if (this.consumed + 0.5 < this.budgetMs) return this.schedule();
    this.stopped = true;
    this.onExpire();
  }

  /** Called on every load sample. */
  setMultiplier(multiplier: number): void {
    if (multiplier === this.multiplier) return;
    this.checkpoint();
    this.multiplier = multiplier;
    this.schedule();
  }

  pause(): void {
    if (this.paused) return;
    this.checkpoint();
    this.paused = true;
    this.schedule();
  }

  resume(): void {
    if (!this.paused) return;
    this.checkpoint();
    this.paused = false;
    this.schedule();
  }

  stop(): void {
    this.checkpoint();
    this.stopped = true;
    this.schedule();
  }

  snapshot(): DeadlineSnapshot {
    this.checkpoint();
    const remaining = Math.max(0, this.budgetMs - this.consumed);
    const running = !this.paused && !this.stopped;
    return {
      requestedMs: this.budgetMs,
      elapsedBudgetMs: Math.round(this.consumed),
      remainingBudgetMs: Math.round(remaining),
      multiplier: this.multiplier,
      projectedDeadline: running ? new Date(this.timers.now() + remaining * this.multiplier).toISOString() : null,
      stretchedMs: Math.max(0, Math.round(this.wall - this.consumed)),
    };
  }
}
