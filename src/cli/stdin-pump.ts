// `run -i` / `-t`: our stdin to the command's, in order, through write_stdin; local raw mode and window size for -t.
import type { Connection } from './connect.js';
import { ToolError } from './exit-codes.js';

/** How long each wait for the command to read queued input lasts. */
const PENDING_POLL_MS = 200;

/** Bytes of input the command has not read yet, from a write_stdin result. */
function pendingInput(state: Record<string, unknown>): number {
  const input = state.input as { pending?: unknown } | null | undefined;
  return typeof input?.pending === 'number' ? input.pending : 0;
}

/** What a stdin pump needs of the TTY it may put in raw mode (a tty.ReadStream when stdin is a terminal). */
interface MaybeTty {
  isTTY?: boolean;
  setRawMode?: (raw: boolean) => unknown;
}

/**
 * Forwards every chunk of `stdin` to the execution with write_stdin (waitMs 0: its output comes back on the
 * execute call's progress stream), one call at a time and in order: chunks that arrive while a call is in
 * flight go out together in the next one. While the command has input it has not read, our stdin is paused
 * (back-pressure, as a pipe gives). End of our stdin closes the command's (eof).
 */
export class StdinPump {
  private pending = '';
  private ended = false;
  private sending = false;
  private stopped = false;
  private readonly decoder = new TextDecoder('utf-8');
  private readonly onData = (chunk: Buffer | string) => {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    void this.pump();
  };
  private readonly onEnd = () => {
    this.ended = true;
    void this.pump();
  };

  constructor(
    private readonly conn: Connection,
    private readonly id: string,
    private readonly stdin: NodeJS.ReadableStream,
    private readonly onError: (message: string) => void,
  ) {}

  start(): void {
    this.stdin.on('data', this.onData);
    this.stdin.once('end', this.onEnd);
    this.stdin.resume();
  }

  /** Stop reading (the command ended): our stdin must not keep this process alive. */
  stop(): void {
    this.stopped = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onEnd);
    this.stdin.pause();
  }

  private async pump(): Promise<void> {
    if (this.sending || this.stopped) return;
    this.sending = true;
    try {
      while (!this.stopped && (this.pending !== '' || this.ended)) {
        const data = this.pending;
        this.pending = '';
        const eof = this.ended;
        // Our stdin waits while the command catches up: input is never read faster than it is taken.
        this.stdin.pause();
        let state = await this.conn.call('write_stdin', {
          id: this.id,
          ...(data !== '' ? { data } : {}),
          ...(eof ? { eof: true } : {}),
          waitMs: 0,
        });
        if (eof) {
          this.stop();
          return;
        }
        while (!this.stopped && pendingInput(state) > 0 && state.state !== 'exited') {
          state = await this.conn.call('write_stdin', { id: this.id, waitMs: PENDING_POLL_MS });
        }
        if (!this.stopped) this.stdin.resume();
      }
    } catch (e) {
      // The command exited or closed its input: what we still had to send has nowhere to go.
      if (!(e instanceof ToolError && e.code === 'INVALID_STATE')) this.onError(`could not send input: ${(e as Error).message}`);
      this.stop();
    } finally {
      this.sending = false;
    }
  }
}

/** Puts a TTY stdin in raw mode (keys, Ctrl-C included, go to the remote terminal) and always puts it back. */
export class RawMode {
  private active = false;
  private readonly restoreOnExit = () => this.restore();

  constructor(private readonly stdin: NodeJS.ReadableStream) {}

  /** True when stdin is a terminal, now in raw mode. */
  enter(): boolean {
    const tty = this.stdin as NodeJS.ReadableStream & MaybeTty;
    if (tty.isTTY !== true || typeof tty.setRawMode !== 'function') return false;
    tty.setRawMode(true);
    this.active = true;
    // process.exit() from anywhere (a third Ctrl-C, an uncaught error) still restores the terminal.
    process.once('exit', this.restoreOnExit);
    return true;
  }

  restore(): void {
    if (!this.active) return;
    this.active = false;
    process.off('exit', this.restoreOnExit);
    (this.stdin as NodeJS.ReadableStream & MaybeTty).setRawMode?.(false);
  }
}
