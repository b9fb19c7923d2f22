// Where the client writes: the command's bytes untouched on stdout/stderr, our own notes on stderr, decorations only on a TTY.
import type { StreamName } from '../processes/output-log.js';
import { formatDuration } from './format.js';

/** How long a command must be silent before the elapsed-time indicator appears. */
export const INDICATOR_SILENCE_MS = 2_000;
const INDICATOR_TICK_MS = 1_000;
const CLEAR_LINE = '\r\x1b[2K';

export interface TerminalStreams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export class Terminal {
  /** Decorations (notes, colours, the indicator) go to stderr only when it is a terminal. */
  readonly decorate: boolean;
  private readonly color: boolean;
  private atLineStart = true;
  private lastOutputAt = Date.now();
  private indicatorShown = false;
  private indicator: NodeJS.Timeout | undefined;

  constructor(private readonly io: TerminalStreams) {
    this.decorate = io.stderr.isTTY === true;
    const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '';
    this.color = this.decorate && !noColor && io.env.TERM !== 'dumb';
  }

  /**
   * The command's own output: written exactly as received, after clearing the indicator line.
   * Returns the stream when its buffer is full (the reader is slower than the command): wait for its 'drain'.
   */
  write(stream: StreamName, text: string): NodeJS.WriteStream | undefined {
    if (text.length === 0) return undefined;
    this.clearIndicator();
    const target = stream === 'stderr' ? this.io.stderr : this.io.stdout;
    const room = target.write(text);
    this.atLineStart = text.endsWith('\n');
    this.lastOutputAt = Date.now();
    return room ? undefined : target;
  }

  /** Our own machine-readable output (ids, tables, JSON) on stdout; returns stdout when it is full. */
  print(text: string): NodeJS.WriteStream | undefined {
    this.clearIndicator();
    return this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`) ? undefined : this.io.stdout;
  }

  /** One JSON value per line. */
  printJson(value: unknown): NodeJS.WriteStream | undefined {
    return this.print(JSON.stringify(value));
  }

  /** Resolves once neither stream holds unwritten data (before polling for more, or exiting). */
  async drained(): Promise<void> {
    for (const s of [this.io.stdout, this.io.stderr]) {
      if (!s.writableNeedDrain || s.destroyed) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          for (const event of ['drain', 'close', 'error']) s.off(event, done);
          resolve();
        };
        for (const event of ['drain', 'close', 'error']) s.once(event, done);
      });
    }
  }

  /** An error from cc-executor itself: always shown, on stderr. */
  error(message: string): void {
    this.clearIndicator();
    const lead = this.decorate && !this.atLineStart ? '\n' : '';
    this.io.stderr.write(`${lead}${this.paint('1;31', 'cc-executor:')} ${message}\n`);
    this.atLineStart = true;
  }

  /** A warning about the command's fate (timed out, evicted output): always shown, on stderr. */
  warn(message: string): void {
    this.clearIndicator();
    const lead = this.decorate && !this.atLineStart ? '\n' : '';
    this.io.stderr.write(`${lead}${this.paint('33', 'cc-executor:')} ${message}\n`);
    this.atLineStart = true;
  }

  /** A line of our own information on stderr (a state line), always shown; bold on a terminal. */
  info(message: string): void {
    this.clearIndicator();
    const lead = this.decorate && !this.atLineStart ? '\n' : '';
    this.io.stderr.write(`${lead}${this.paint('1', message)}\n`);
    this.atLineStart = true;
  }

  /** Chatter for a person at a terminal (progress of Ctrl-C, reconnects): only when stderr is a TTY. */
  note(message: string): void {
    if (!this.decorate) return;
    this.clearIndicator();
    const lead = this.atLineStart ? '' : '\n';
    this.io.stderr.write(`${lead}${this.paint('2', `cc-executor: ${message}`)}\n`);
    this.atLineStart = true;
  }

  /**
   * Show "running 12s" on stderr while the command is silent, only on a TTY and only at the start
   * of a line (drawing over a half-written line, like a prompt, would hide the command's output).
   */
  startIndicator(startedAt: number, hint: string): void {
    if (!this.decorate || this.indicator !== undefined) return;
    this.indicator = setInterval(() => {
      if (!this.atLineStart || Date.now() - this.lastOutputAt < INDICATOR_SILENCE_MS) return;
      const text = `… running ${formatDuration(Date.now() - startedAt)}, silent ${formatDuration(Date.now() - this.lastOutputAt)} (${hint})`;
      this.io.stderr.write(`${CLEAR_LINE}${this.paint('2', text)}`);
      this.indicatorShown = true;
    }, INDICATOR_TICK_MS);
    this.indicator.unref();
  }

  stopIndicator(): void {
    clearInterval(this.indicator);
    this.indicator = undefined;
    this.clearIndicator();
  }

  clearIndicator(): void {
    if (!this.indicatorShown) return;
    this.io.stderr.write(CLEAR_LINE);
    this.indicatorShown = false;
  }

  /** Our terminal's size (stdout's), or null when stdout is not a terminal. */
  windowSize(): { cols: number; rows: number } | null {
    const out = this.io.stdout;
    return out.isTTY === true && out.columns > 0 && out.rows > 0 ? { cols: out.columns, rows: out.rows } : null;
  }

  /** Call `listener` with the new size whenever our terminal is resized (SIGWINCH); returns the unsubscribe. */
  onWindowResize(listener: (size: { cols: number; rows: number }) => void): () => void {
    const out = this.io.stdout;
    const onResize = () => {
      const size = this.windowSize();
      if (size) listener(size);
    };
    out.on('resize', onResize);
    return () => out.off('resize', onResize);
  }

  private paint(sgr: string, text: string): string {
    return this.color ? `\x1b[${sgr}m${text}\x1b[0m` : text;
  }
}
