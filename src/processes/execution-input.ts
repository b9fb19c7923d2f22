// The open stdin of an interactive execution: ordered writes, end-of-input, and "is it waiting for input?".
import { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import type { ProcessHandle } from '../backends/backend.js';
import { ServerError } from '../errors.js';

/** How "waiting for input" was decided: /proc showed a read on the input, or (no /proc) output went quiet. */
export type InputDetection = 'proc' | 'quiet-output';

/** What the record keeps of the input: how much was written, never what (passwords are typed). */
export interface InputSnapshot {
  writes: number;
  bytes: number;
  /** True once stdin was closed (eof, or Ctrl-D sent on a terminal). */
  closed: boolean;
  /** Bytes written but not yet taken by the command's stdin (it is not reading, or not as fast): queued in order. */
  pending: number;
}

export interface ExecutionInputOptions {
  /** Output quiet for this long (and no write) before a blocked read counts as waiting. */
  quietMs: number;
  /** Without /proc: output quiet for this long with stdin open counts as (probably) waiting. */
  fallbackQuietMs: number;
  /** When output last arrived (ms epoch). */
  lastOutputAt: () => number;
  /** False while the execution is paused or stopping: nothing waits for input then. */
  active: () => boolean;
  /** Aborted when the execution exits: polling stops. */
  signal: AbortSignal;
}

const POLL_MS = 100;
/** At most this much input is queued for a command that is not reading it; more is refused (memory is bounded). */
export const MAX_PENDING_INPUT_BYTES = 1 << 20;

export type ExecutionInputEvents = { waiting: [boolean] };

/**
 * Owns writes to the handle's stdin (one at a time, in order) and polls the handle's waitingForInput() while
 * the execution lives: `waiting` flips (and the 'waiting' event fires) when a member blocks reading the input
 * after output has been quiet for quietMs, and back as soon as input is written or output arrives.
 */
export class ExecutionInput extends EventEmitter<ExecutionInputEvents> {
  private writes = 0;
  private bytes = 0;
  private closed = false;
  private lastWriteAt = 0;
  private isWaiting = false;
  private seenBlocked = false;
  private how: InputDetection = 'proc';
  private chain: Promise<void> = Promise.resolve();
  /** Bytes of accepted writes not yet handed to the OS (queued behind a command that is not reading). */
  private queued = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly handle: ProcessHandle,
    private readonly stdin: Writable,
    private readonly opts: ExecutionInputOptions,
  ) {
    super();
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    opts.signal.addEventListener(
      'abort',
      () => {
        clearInterval(this.timer);
        this.setWaiting(false);
      },
      { once: true },
    );
  }

  get waiting(): boolean {
    return this.isWaiting;
  }

  get detection(): InputDetection {
    return this.how;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  snapshot(): InputSnapshot {
    return { writes: this.writes, bytes: this.bytes, closed: this.closed, pending: this.queued };
  }

  /** Write `data` (in order with earlier writes), then close stdin when `eof`. Throws INVALID_STATE once closed. */
  write(data: string, eof: boolean): Promise<void> {
    if (this.closed) throw new ServerError('INVALID_STATE', 'stdin is already closed (eof was sent)', { stdinClosed: true });
    const pending = this.queued;
    if (pending > 0 && pending + Buffer.byteLength(data) > MAX_PENDING_INPUT_BYTES) {
      throw new ServerError(
        'LIMIT_REACHED',
        `the command has not read the ${pending} bytes of input already queued: wait for it (write_stdin with only waitMs) and send the rest then`,
        { limit: 'pendingInput', pending },
      );
    }
    const size = Buffer.byteLength(data);
    if (size > 0) {
      this.writes++;
      this.bytes += size;
    }
    this.queued += size;
    if (eof) this.closed = true;
    this.lastWriteAt = Date.now();
    this.setWaiting(false);
    const step = this.chain.then(() => this.send(data, eof)).finally(() => (this.queued -= size));
    this.chain = step.catch(() => undefined);
    return step;
  }

  private send(data: string, eof: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (err?: Error | null) => (err ? reject(gone(err)) : resolve());
      if (this.stdin.destroyed || this.stdin.writableEnded) return finish(new Error('stdin is closed'));
      const afterData = () => (eof ? this.stdin.end(() => finish()) : finish());
      if (data.length === 0) return afterData();
      // The write callback fires once the data is handed to the OS (or failed: EPIPE when nobody reads).
      this.stdin.write(data, (err) => (err ? finish(err) : afterData()));
    });
  }

  private poll(): void {
    if (this.closed || !this.opts.active()) return this.setWaiting(false);
    const quietFor = Date.now() - Math.max(this.opts.lastOutputAt(), this.lastWriteAt);
    if (quietFor < this.opts.quietMs) return this.setWaiting(false);
    const blocked = this.handle.waitingForInput?.() ?? null;
    if (blocked !== null) {
      this.how = 'proc';
      // Two looks in a row: output the program wrote just before blocking may still be on its way to us.
      const confirmed = blocked && this.seenBlocked;
      this.seenBlocked = blocked;
      return this.setWaiting(confirmed);
    }
    // No /proc view (another OS, a remote backend): open stdin and a long silence is the best sign there is.
    this.how = 'quiet-output';
    this.setWaiting(quietFor >= this.opts.fallbackQuietMs);
  }

  /** Output arrived: whatever it was waiting for, the program is doing something now. */
  noteOutput(): void {
    this.seenBlocked = false;
    this.setWaiting(false);
  }

  private setWaiting(waiting: boolean): void {
    if (waiting === this.isWaiting) return;
    this.isWaiting = waiting;
    this.emit('waiting', waiting);
  }
}

function gone(err: Error): ServerError {
  return new ServerError('INVALID_STATE', `the command no longer reads its input (${(err as NodeJS.ErrnoException).code ?? err.message})`, {
    stdinClosed: true,
  });
}
