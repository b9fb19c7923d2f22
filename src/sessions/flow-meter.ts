// Counts one session's bytes handed to its transport but not yet written; full above high water, drained below low water.
export class FlowMeter {
  private pending = 0;
  private isFull = false;
  private waiters: Array<() => void> = [];
  /** How many times this session crossed the high-water mark (reported by status and metrics). */
  pauses = 0;
  /** Every byte ever tracked: what the session's transport has handed to its connection. */
  trackedBytes = 0;

  constructor(
    /** Pending bytes above which the session is full (the most a session has in flight, give or take one read). */
    readonly highWaterBytes: number,
    private readonly lowWaterBytes: number,
  ) {}

  get full(): boolean {
    return this.isFull;
  }

  get pendingBytes(): number {
    return this.pending;
  }

  /** Count `bytes` as in flight until `written` settles (a transport's send() resolves once written). */
  track(bytes: number, written: Promise<unknown>): void {
    this.pending += bytes;
    this.trackedBytes += bytes;
    if (!this.isFull && this.pending > this.highWaterBytes) {
      this.isFull = true;
      this.pauses++;
    }
    const settle = () => {
      this.pending -= bytes;
      if (this.isFull && this.pending <= this.lowWaterBytes) this.release();
    };
    written.then(settle, settle);
  }

  drained(): Promise<void> {
    if (!this.isFull) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The session is gone: nobody will drain it, so let every waiter go. */
  close(): void {
    this.release();
  }

  private release(): void {
    this.isFull = false;
    for (const w of this.waiters.splice(0)) w();
  }
}
