// Bounds the work one WebSocket connection can cause, whatever protocol it speaks: frames are read at a set rate
// (reading pauses past it) and a connection that keeps earning error replies is closed.
import WebSocket from 'ws';

/** The window the error budget counts over. */
const ERROR_WINDOW_MS = 10_000;

export interface FrameGovernorOptions {
  /** Frames read per second at most (bursts of twice that); past it, reading pauses. 0 = no limit. */
  framesPerSecond?: number;
  /** Error replies within 10 s after which the connection is closed. 0 = no limit. */
  errorBudget?: number;
  /** Called once when the error budget is spent, before `onflood` closes the connection (for the log). */
  onflood?: () => void;
}

/**
 * Sits between a `ws` connection's 'message' events and the protocol: `admit` each frame, `countError` each
 * error reply, `stop` when the connection closes. Frames reach `deliver` in order, never faster than the rate.
 */
export class FrameGovernor {
  /** Token bucket of incoming frames: refilled at framesPerSecond, holding at most two seconds' worth. */
  private tokens: number;
  private refilledAt = Date.now();
  private resumeTimer: NodeJS.Timeout | undefined;
  /** Frames read from the socket but over the rate, in order. */
  private readonly queue: Array<[WebSocket.RawData, boolean]> = [];
  /** Error replies in the current window, and when the window started. */
  private errors = 0;
  private errorWindowStart = Date.now();
  private stopped = false;
  /** True once the error budget was spent: later frames are dropped while the connection closes. */
  flooded = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly options: FrameGovernorOptions,
    private readonly deliver: (data: WebSocket.RawData, isBinary: boolean) => void,
    private readonly closeFlooded: () => void,
  ) {
    this.tokens = 2 * (options.framesPerSecond ?? 0);
  }

  /**
   * One frame arrived: delivered now when a token is left, else queued and the socket paused until the bucket
   * refills. The peer's further frames wait in its own send buffer and the TCP window; the queue holds at
   * most what one read of the socket brought.
   */
  admit(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.stopped || this.flooded) return;
    if (this.queue.length === 0 && this.takeToken()) return this.deliver(data, isBinary);
    this.queue.push([data, isBinary]);
    if (this.resumeTimer) return;
    this.ws.pause();
    this.scheduleDrain();
  }

  /** One error reply sent: past the budget within the window, the connection is closed. */
  countError(): void {
    const budget = this.options.errorBudget ?? 0;
    if (budget <= 0 || this.flooded || this.stopped) return;
    const now = Date.now();
    if (now - this.errorWindowStart > ERROR_WINDOW_MS) {
      this.errorWindowStart = now;
      this.errors = 0;
    }
    if (++this.errors <= budget) return;
    this.flooded = true;
    this.queue.length = 0;
    this.options.onflood?.();
    this.closeFlooded();
  }

  /** The connection closed: queued frames are dropped and no timer is left behind. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
  }

  /** Take a token for one frame; false when the bucket is empty. */
  private takeToken(): boolean {
    const rate = this.options.framesPerSecond ?? 0;
    if (rate <= 0) return true;
    const now = Date.now();
    this.tokens = Math.min(2 * rate, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private scheduleDrain(): void {
    const rate = this.options.framesPerSecond ?? 1;
    this.resumeTimer = setTimeout(() => this.drain(), Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate)));
    this.resumeTimer.unref();
  }

  private drain(): void {
    this.resumeTimer = undefined;
    while (this.queue.length > 0 && !this.stopped && !this.flooded && this.takeToken()) {
      const [data, isBinary] = this.queue.shift()!;
      this.deliver(data, isBinary);
    }
    if (this.stopped || this.flooded) return;
    if (this.queue.length > 0) return this.scheduleDrain();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.resume();
  }
}
