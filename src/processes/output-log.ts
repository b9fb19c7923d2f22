// The only holder of an execution's output: seq-numbered chunks in a bounded window, inline head/tail, subscribers.
import { InlineHeadTail, type InlineOutput } from './inline-head-tail.js';
import { SlabStore, type Slab } from './slab-store.js';
import { TerminalText } from './terminal-text.js';

export type { InlineOutput } from './inline-head-tail.js';

export type StreamName = 'stdout' | 'stderr';

/**
 * One piece of output as bytes: the window holds these, outside V8's heap. Text is made from them only
 * where it is needed (a notification being built, a status read) and dropped right after, so no chunk's
 * text lives long enough to be promoted to the old generation while a slow reader holds output back.
 */
export class OutputChunk {
  constructor(
    /** 1-based, strictly increasing across both streams. */
    readonly seq: number,
    readonly stream: StreamName,
    /** The output in UTF-8, whole characters: exactly the bytes the log file holds for this chunk. */
    readonly raw: Buffer,
    /** Size of the pipe bytes this chunk stands for (differs from raw.length only where invalid UTF-8 was replaced). */
    readonly bytes: number,
    /** The text when the appender already decoded it (live chunks only: window copies never hold text). */
    private readonly text?: string,
  ) {}

  /** The chunk as text (decoded on each read unless the appender passed it: keep it only as long as needed). */
  get data(): string {
    return this.text ?? this.raw.toString('utf8');
  }
}

/** A consumer of live output (a progress sink, a resource subscription...). */
export interface OutputSubscriber {
  write(chunk: OutputChunk): void;
  /** True while the subscriber cannot take more: the execution stops reading the child's pipes. */
  readonly full: boolean;
  /** Resolves once the subscriber is no longer full. */
  drained(): Promise<void>;
}

export interface OutputRead {
  chunks: OutputChunk[];
  /** Pass this back as `sinceSeq` to continue after the last returned chunk. */
  nextSeq: number;
  /** Oldest seq still held; anything below it was evicted from memory. */
  firstSeq: number;
  /** True when chunks after `sinceSeq` were evicted before this read. */
  evicted: boolean;
  /** True when more chunks are available right now. */
  more: boolean;
}

/** How a log renders inline text: as the bytes came (pipes), or as a terminal screen would show stdout (PTY). */
export interface OutputLogOptions {
  /** PTY output: stdout's inline text is rendered (escapes removed, \r overwrites collapsed); the chunks stay raw. */
  terminal?: { rows: number };
  /** The execution's id: the inline marker names the status call that reads what it left out. */
  id?: string;
}

/** A finished run's inline output as its final record holds it (what viewOf shows once the log is retired). */
export interface SavedText {
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** A window chunk with bytes of its own: a slab's view must not outlive the chunk's place in the window. */
function ownCopy(chunk: OutputChunk): OutputChunk {
  return new OutputChunk(chunk.seq, chunk.stream, Buffer.from(chunk.raw), chunk.bytes);
}

export class OutputLog {
  /** The window: chunks whose bytes are views into `slabs` (copied out before they leave this class). */
  private readonly chunks: OutputChunk[] = [];
  /** The slab each chunk of the window is kept in, index for index. */
  private readonly chunkSlabs: Array<Slab | null> = [];
  private readonly slabs = new SlabStore();
  private head = 0; // index of the oldest held chunk in `chunks`
  private heldBytes = 0;
  private lastSeq = 0;
  private readonly subscribers = new Set<OutputSubscriber>();
  private inline: Record<StreamName, InlineHeadTail>;
  /** Set by retire(): the inline output is read from the record, not kept here. */
  private saved: (() => SavedText) | undefined;
  readonly bytes: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  /** PTY only: turns stdout's raw terminal text into what a screen shows, for inline output. */
  private screen: TerminalText | undefined;
  private readonly terminal: boolean;
  private lastStream: StreamName = 'stdout';
  private isReleased = false;

  constructor(
    private readonly maxHeldBytes: number,
    inlineChars: number,
    options: OutputLogOptions = {},
  ) {
    const half = Math.floor(inlineChars / 2);
    this.inline = { stdout: new InlineHeadTail(half, 'stdout', options.id), stderr: new InlineHeadTail(half, 'stderr', options.id) };
    // No cursor reaches above a terminal's top line: that bounds what a redraw can still change.
    if (options.terminal) this.screen = new TerminalText({ maxHeldLines: Math.max(0, options.terminal.rows - 1) });
    this.terminal = options.terminal !== undefined;
  }

  /** Bytes of output the window holds in memory now. */
  get windowBytes(): number {
    return this.heldBytes;
  }

  /** True once release() dropped the window: every read of a chunk comes from the log files. */
  get released(): boolean {
    return this.isReleased;
  }

  /**
   * The execution has finished and its logs on disk hold every chunk: drop the window (reads come from disk:
   * read() and tailStart() then report everything as evicted) and keep only the inline head and tail.
   * 500 finished runs with 1 MiB windows would otherwise hold 500 MiB.
   */
  release(): void {
    this.chunks.length = 0;
    this.chunkSlabs.length = 0;
    this.slabs.clear();
    this.head = 0;
    this.heldBytes = 0;
    this.isReleased = true;
    this.inline.stdout.compact();
    this.inline.stderr.compact();
  }

  /**
   * Finished for good: release() plus the inline head and tail (up to inlineOutputChars per stream, 30,000
   * by default) and the terminal screen leave memory; `saved` reads the inline output from the final record,
   * which holds exactly what viewOf showed when it was written.
   */
  retire(saved: () => SavedText): void {
    this.release();
    this.saved = saved;
    this.inline = { stdout: new InlineHeadTail(0, 'stdout', undefined), stderr: new InlineHeadTail(0, 'stderr', undefined) };
    this.screen = undefined;
  }

  /** A retired log's inline output, read from the record (undefined while the log keeps it itself). */
  savedText(): SavedText | undefined {
    return this.saved?.();
  }

  /** True once retire() let the inline output go (it comes from the record). */
  get retired(): boolean {
    return this.saved !== undefined;
  }

  /** True when stdout is a terminal's raw output (inline text is rendered). */
  get rendersTerminal(): boolean {
    return this.terminal;
  }

  get seq(): number {
    return this.lastSeq;
  }

  /**
   * Record a chunk and hand it to every subscriber. `data` is whole UTF-8 characters (a Utf8Chunker's
   * pieces; a string is encoded); `bytes` the pipe bytes it stands for (default: its size).
   */
  append(stream: StreamName, data: Buffer | string, bytes?: number): OutputChunk {
    const raw = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const size = bytes ?? raw.length;
    // Decoded once here, for the inline head/tail and the live chunk's subscribers (a progress sink builds
    // its notification from it within coalesceMs); the window's copy keeps only bytes.
    const text = typeof data === 'string' ? data : raw.toString('utf8');
    const chunk = new OutputChunk(++this.lastSeq, stream, raw, size, text);
    this.bytes[stream] += size;
    this.lastStream = stream;
    this.inline[stream].append(this.screen && stream === 'stdout' ? this.screen.write(text) : text, size);
    // The window keeps a copy in a reused slab; subscribers get the chunk as it came (short-lived).
    const kept = this.slabs.keep(raw);
    this.chunks.push(new OutputChunk(chunk.seq, stream, kept.view, size));
    this.chunkSlabs.push(kept.slab);
    this.heldBytes += size;
    while (this.heldBytes > this.maxHeldBytes && this.chunks.length - this.head > 1) {
      this.heldBytes -= this.chunks[this.head]!.bytes;
      this.slabs.drop(this.chunkSlabs[this.head]!);
      this.chunks[this.head] = undefined as unknown as OutputChunk;
      this.chunkSlabs[this.head] = null;
      this.head++;
    }
    // Compact the array now and then instead of shifting on every eviction.
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.chunkSlabs.splice(0, this.head);
      this.head = 0;
    }
    for (const sub of this.subscribers) sub.write(chunk);
    return chunk;
  }

  /** True when some subscriber cannot take more output right now. */
  get congested(): boolean {
    for (const sub of this.subscribers) if (sub.full) return true;
    return false;
  }

  /** Resolves once no subscriber is full (subscribers that leave count as drained). */
  async drained(): Promise<void> {
    while (this.congested) {
      await Promise.race([...this.subscribers].filter((s) => s.full).map((s) => s.drained()));
    }
  }

  /**
   * Hand `sub` every chunk still held, then every new one: a subscriber that joins late misses nothing
   * the window holds. Returns the unsubscribe function.
   */
  follow(sub: OutputSubscriber): () => void {
    for (let i = this.head; i < this.chunks.length; i++) sub.write(ownCopy(this.chunks[i]!));
    return this.subscribe(sub);
  }

  subscribe(sub: OutputSubscriber): () => void {
    this.subscribers.add(sub);
    return () => {
      this.subscribers.delete(sub);
      this.onUnsubscribe?.();
    };
  }

  /** Set by the owner to re-check congestion when a subscriber leaves. */
  onUnsubscribe: (() => void) | undefined;

  read(sinceSeq: number, maxBytes: number): OutputRead {
    const firstSeq = this.chunks[this.head]?.seq ?? this.lastSeq + 1;
    const evicted = sinceSeq + 1 < firstSeq;
    const out: OutputChunk[] = [];
    let size = 0;
    let index = this.head + Math.max(0, sinceSeq + 1 - firstSeq);
    for (; index < this.chunks.length; index++) {
      const chunk = this.chunks[index]!;
      if (out.length > 0 && size + chunk.bytes > maxBytes) break;
      out.push(ownCopy(chunk));
      size += chunk.bytes;
    }
    const nextSeq = out.length > 0 ? out[out.length - 1]!.seq : Math.max(sinceSeq, firstSeq - 1);
    return { chunks: out, nextSeq, firstSeq, evicted, more: index < this.chunks.length };
  }

  /**
   * Scrollback: where a read must start (its sinceSeq) to get the chunks just before `beforeSeq`, at most
   * `maxBytes` of them (at least one), as far as memory holds them. `reachedWindowStart` says the walk ran
   * into the oldest held chunk with budget left, so older chunks (on disk) may belong to the window too.
   */
  tailStart(beforeSeq: number, maxBytes: number): { sinceSeq: number; bytes: number; reachedWindowStart: boolean } {
    const firstSeq = this.chunks[this.head]?.seq ?? this.lastSeq + 1;
    let since = Math.min(beforeSeq - 1, this.lastSeq);
    let bytes = 0;
    while (since >= firstSeq) {
      const chunk = this.chunks[this.head + (since - firstSeq)]!;
      if (bytes > 0 && bytes + chunk.bytes > maxBytes) return { sinceSeq: since, bytes, reachedWindowStart: false };
      bytes += chunk.bytes;
      since--;
    }
    return { sinceSeq: since, bytes, reachedWindowStart: true };
  }

  inlineOutput(stream: StreamName): InlineOutput {
    if (this.saved) {
      // The record keeps the text and whether anything was left out, not the per-stream counts.
      const saved = this.saved();
      return { text: saved[stream], truncated: saved.truncated, omittedChars: 0, omitted: null };
    }
    const inline = this.inline[stream].render();
    if (!this.screen || stream !== 'stdout') return inline;
    // Lines still on screen (a prompt, a progress bar being redrawn) are not in the head/tail yet.
    const onScreen = this.screen.screen();
    return onScreen === '' ? inline : { ...inline, text: inline.text + onScreen };
  }

  /** The last non-empty line printed, as shown on screen: for a program waiting for input, its prompt. */
  lastLine(): string {
    if (this.saved) {
      const lines = this.saved()
        [this.lastStream].slice(-4_096)
        .split(/\r?\n/)
        .filter((l) => l.trim() !== '');
      return (lines.at(-1) ?? '').slice(-400);
    }
    if (this.screen && this.lastStream === 'stdout') return this.screen.lastLine() || this.inline.stdout.lastLine();
    return this.inline[this.lastStream].lastLine();
  }
}
