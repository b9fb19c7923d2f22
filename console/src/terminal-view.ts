// One execution's output in xterm: the tail first, then following live by cursor; earlier windows on request.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { Connection } from './connection.js';
import type { ExecutionStatus, OutputChunk } from './types.js';

/** What one read asks for; the tail shown on open and each "earlier" step. */
const WINDOW_BYTES = 256 * 1024;
/** Most output the page holds for one execution; beyond it the oldest part leaves (it stays on disk). */
const MAX_HELD_BYTES = 8 * 1024 * 1024;
/** Safety net for lost notifications while a run is live. */
const POLL_MS = 2_000;
/** Past the end of any log: `beforeSeq` this high means "the tail". */
const TAIL = Number.MAX_SAFE_INTEGER;
// stderr in red, then back to the default colour only (stdout's own colours are its business).
const STDERR_ON = '\x1b[31m';
const STDERR_OFF = '\x1b[39m';

export interface TerminalCallbacks {
  /** Every status read: the page updates the facts and controls from it. */
  onStatus(status: ExecutionStatus): void;
  /** Keys typed into the terminal (only wired when the execution takes input). */
  onInput?(data: string): void;
  onResize?(cols: number, rows: number): void;
}

export class TerminalView {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private id: string | undefined;
  /** Changes with every open(): answers for an execution no longer shown are dropped. */
  private generation = 0;
  private held: OutputChunk[] = [];
  private heldBytes = 0;
  private cursor = 0;
  private earlier = false;
  private live = false;
  private pumping = false;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private poll: ReturnType<typeof setInterval> | undefined;
  follow = true;
  acceptInput = false;
  onEarlierChange: (available: boolean) => void = () => undefined;
  onNote: (text: string) => void = () => undefined;

  constructor(
    container: HTMLElement,
    private readonly connection: Connection,
    private readonly callbacks: TerminalCallbacks,
  ) {
    this.term = new Terminal({
      // The text stays available to screen readers (and to tests reading the accessibility tree).
      screenReaderMode: true,
      convertEol: true,
      scrollback: 50_000,
      fontSize: 13,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
      theme: { background: '#111418' },
      disableStdin: false,
      cursorBlink: false,
    });
    this.term.loadAddon(this.fit);
    this.term.open(container);
    this.term.onData((data) => {
      if (this.acceptInput) this.callbacks.onInput?.(data);
    });
    this.term.onResize(({ cols, rows }) => this.callbacks.onResize?.(cols, rows));
    new ResizeObserver(() => this.refit()).observe(container);
    this.refit();
  }

  refit(): void {
    try {
      this.fit.fit();
    } catch {
      // Hidden (zero-size) container: fit again when it shows.
    }
  }

  /** Show execution `id`: its tail, then follow. */
  async open(id: string): Promise<void> {
    this.close();
    const gen = ++this.generation;
    this.id = id;
    this.term.reset();
    this.held = [];
    this.heldBytes = 0;
    this.onNote('');
    const first = await this.connection.call<ExecutionStatus>('status', { id, beforeSeq: TAIL, maxBytes: WINDOW_BYTES });
    if (gen !== this.generation) return;
    this.earlier = first.output.earlier === true;
    this.onEarlierChange(this.earlier);
    this.append(first.output.chunks);
    this.cursor = first.output.nextSeq;
    this.track(first);
    this.unsubscribe = this.connection.subscribe(`cc-executor://executions/${first.id}/output`, () => this.pump());
    this.poll = setInterval(() => {
      if (this.live) this.pump();
    }, POLL_MS);
    this.pump();
  }

  /** Local echo (typing into a pipe). */
  write(text: string): void {
    this.term.write(text);
  }

  /** Stop following (another execution is shown, or none). */
  close(): void {
    this.generation++;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.poll);
    this.id = undefined;
    this.live = false;
  }

  /** A reconnect: read what was missed. */
  refresh(): void {
    if (this.id) this.pump();
  }

  private track(status: ExecutionStatus): void {
    this.live = status.state === 'running' || status.state === 'paused';
    this.callbacks.onStatus(status);
  }

  /** Read forward from the cursor until caught up; one read at a time, re-run if asked meanwhile. */
  private pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void (async () => {
      const gen = this.generation;
      try {
        do {
          this.again = false;
          let more = true;
          while (more && gen === this.generation && this.id) {
            const s = await this.connection.call<ExecutionStatus>('status', { id: this.id, sinceSeq: this.cursor, maxBytes: WINDOW_BYTES });
            if (gen !== this.generation) return;
            this.append(s.output.chunks);
            this.cursor = s.output.nextSeq;
            more = s.output.more;
            this.track(s);
          }
        } while (this.again && gen === this.generation);
      } catch {
        // Disconnected or the record is gone: the next notification, poll or reconnect tries again.
      } finally {
        this.pumping = false;
      }
    })();
  }

  private append(chunks: OutputChunk[]): void {
    if (chunks.length === 0) return;
    for (const c of chunks) {
      this.held.push(c);
      this.heldBytes += c.data.length;
    }
    this.term.write(render(chunks), () => {
      if (this.follow) this.term.scrollToBottom();
    });
    // Bounded: drop the oldest held output; it can be loaded again from disk.
    let dropped = false;
    while (this.heldBytes > MAX_HELD_BYTES && this.held.length > 1) {
      this.heldBytes -= this.held.shift()!.data.length;
      dropped = true;
    }
    if (dropped && !this.earlier) {
      this.earlier = true;
      this.onEarlierChange(true);
    }
  }

  /** Prepend the window before what is shown, from the server's log (memory or disk); redraws the terminal. */
  async loadEarlier(): Promise<void> {
    const id = this.id;
    const firstHeld = this.held[0]?.seq;
    if (!id || firstHeld === undefined) return;
    if (this.heldBytes >= MAX_HELD_BYTES) {
      this.onNote(
        `Showing the last ${MAX_HELD_BYTES / 1024 / 1024} MiB; older output is in the log on disk (status with stream and byteOffset).`,
      );
      return;
    }
    const gen = this.generation;
    const s = await this.connection.call<ExecutionStatus>('status', { id, beforeSeq: firstHeld, maxBytes: WINDOW_BYTES });
    if (gen !== this.generation) return;
    // A read stopping at a memory/disk seam may end short of firstHeld: keep only what joins up.
    const before = s.output.chunks.filter((c) => c.seq < firstHeld);
    const last = before.at(-1);
    if (!last || last.seq !== firstHeld - 1) {
      this.onNote('Could not load earlier output just now; try again.');
      return;
    }
    this.held = [...before, ...this.held];
    this.heldBytes += before.reduce((n, c) => n + c.data.length, 0);
    this.earlier = s.output.earlier === true;
    this.onEarlierChange(this.earlier);
    this.term.reset();
    this.term.write(render(this.held), () => this.term.scrollToTop());
  }
}

function render(chunks: OutputChunk[]): string {
  let out = '';
  for (const c of chunks) out += c.stream === 'stderr' ? `${STDERR_ON}${c.data}${STDERR_OFF}` : c.data;
  return out;
}
