// One execution's output as original-protocol `process.output` notifications: one per line, long lines chunked, flow-controlled.
import type { OutputChunk, StreamName } from '../src/processes/output-log.js';
import type { FlowMeter } from '../src/sessions/flow-meter.js';
import { FlowSubscriber } from '../src/sessions/flow-subscriber.js';

/** Lines longer than this many characters (UTF-16 code units) are sent in chunks, as the original did. */
export const LEGACY_CHUNK_CHARS = 65_536;

/** Params of one `process.output` notification, field for field as the original sent them. */
export interface ProcessOutputParams {
  type: StreamName;
  data: string;
  /** True when more of the same line follows in a later notification. */
  truncated: boolean;
  /** Position of this chunk in its line; null when the line fits in one notification. */
  chunk_index: number | null;
  /** Number of chunks of this line; null when the line fits in one notification. */
  total_chunks: number | null;
}

export interface LegacyOutputOptions {
  /** Longest line held before it is sent in parts (bounds memory per stream). */
  maxLineChars: number;
  chunkChars?: number;
  /** The connection's flow meter: while it is full, the execution stops reading the child's pipes. */
  flow: FlowMeter;
  /** Hand notifications to the connection, in order; a batch is at most BATCH_CHARS of data (or one chunk). */
  emit(batch: readonly ProcessOutputParams[]): void;
}

/**
 * Characters of output handed to the connection at once. Why: a line is one notification, so short lines
 * are many; batched they are framed and written together (LegacyFrameWriter). Small enough that the flow
 * meter is checked often (a batch is about this many bytes on the wire, a few times that when escaped).
 */
const BATCH_CHARS = 32 * 1024;

/**
 * Split the text of `pieces` (in order) into chunks of at most `max` code units (`max` >= 2), never between the
 * two halves of a surrogate pair (a client that counts code points, like Python, must get whole characters).
 */
export function splitChunks(pieces: readonly string[], max: number): string[] {
  // Cut from the pieces as held, never from their join: a joined part of a long line is one string of up to
  // maxLineChars (2 MiB for 1 Mi characters), in V8's large-object space, which every chunk sliced from it
  // keeps alive and only a full GC frees (a slow reader of a single long line: +50 MiB of RSS).
  const out: string[] = [];
  let current = '';
  for (let piece of pieces) {
    while (current.length + piece.length > max) {
      let cut = max - current.length; // characters of this piece that still fit
      const lastKept = cut > 0 ? piece.charCodeAt(cut - 1) : current.charCodeAt(current.length - 1);
      if (isHighSurrogate(lastKept)) cut--; // never end a chunk between the halves of a surrogate pair
      if (cut < 0) {
        // The held text ends with a high surrogate at the bound: it starts the next chunk instead.
        out.push(current.slice(0, -1));
        piece = current.slice(-1) + piece;
        current = '';
        continue;
      }
      out.push(current + piece.slice(0, cut));
      current = '';
      piece = piece.slice(cut);
    }
    current += piece;
  }
  if (current.length > 0 || out.length === 0) out.push(current);
  return out;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Pieces of the line being assembled for one stream. */
interface PendingLine {
  pieces: string[];
  length: number;
}

/**
 * Subscribes to one execution's OutputLog. `total_chunks` must be known when the first chunk of a
 * line goes out, so a line is held until its newline (or EOF). What is held is bounded by
 * `maxLineChars` per stream: a longer line goes out in several chunked parts, each part's last
 * chunk marked `truncated: true` so a client knows the line continues. Every character arrives, in order.
 */
export class LegacyOutputSubscriber extends FlowSubscriber {
  private readonly pending: Record<StreamName, PendingLine> = {
    stdout: { pieces: [], length: 0 },
    stderr: { pieces: [], length: 0 },
  };
  private readonly chunkChars: number;
  private closed = false;
  private abandoned = false;
  /** Notifications not yet handed to the connection because its flow meter was full, in order. */
  private readonly queue: ProcessOutputParams[] = [];
  /** True while waiting for the flow meter to drain. */
  private waiting = false;
  /** Settles once the queue is empty (see close()). */
  private sent: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LegacyOutputOptions) {
    super(opts.flow);
    this.chunkChars = opts.chunkChars ?? LEGACY_CHUNK_CHARS;
    if (opts.maxLineChars < this.chunkChars) throw new Error('maxLineChars must be at least the chunk size');
  }

  write(chunk: OutputChunk): void {
    if (this.closed) return;
    const text = chunk.data;
    let start = 0;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) {
        this.hold(chunk.stream, text.slice(start));
        break;
      }
      this.hold(chunk.stream, text.slice(start, nl + 1));
      this.emitLine(chunk.stream, false);
      start = nl + 1;
    }
    this.pump();
  }

  /**
   * Send the unterminated last line of each stream (EOF) and stop following the log. Resolves once every
   * notification has been handed to the connection (the client may be reading slowly): send what follows
   * the output, such as `process.completed`, after that.
   */
  close(): Promise<void> {
    if (this.closed) return this.sent;
    this.emitLine('stdout', false);
    this.emitLine('stderr', false);
    this.pump();
    this.closed = true;
    this.unsubscribe?.();
    return this.sent;
  }

  /** Stop at once without sending what is held (the connection is gone). */
  abandon(): void {
    this.closed = true;
    this.abandoned = true;
    this.queue.length = 0;
    for (const line of Object.values(this.pending)) {
      line.pieces = [];
      line.length = 0;
    }
    this.unsubscribe?.();
  }

  /**
   * Hand queued notifications to the connection while its flow meter has room; when it is full, wait until it
   * drains. A line held whole (up to maxLineChars) is many chunks: sent all at once to a slow reader they all
   * waited in the socket's queue as strings (a 64 MiB line: +145 MiB of RSS).
   */
  private pump(): void {
    while (this.queue.length > 0 && !this.waiting) {
      if (this.abandoned) return;
      if (this.flow.full) {
        this.waiting = true;
        this.sent = this.flow.drained().then(() => {
          this.waiting = false;
          this.pump();
          // Waiting again: settle with the new wait (never with this promise itself).
          return this.waiting ? this.sent : undefined;
        });
        return;
      }
      let count = 0;
      let chars = 0;
      while (count < this.queue.length && (count === 0 || chars + this.queue[count]!.data.length <= BATCH_CHARS)) {
        chars += this.queue[count]!.data.length;
        count++;
      }
      this.opts.emit(this.queue.splice(0, count));
    }
  }

  /** Queue a notification; write() and close() hand the queue on (pump) once the chunk is split into lines. */
  private send(params: ProcessOutputParams): void {
    this.queue.push(params);
  }

  private hold(stream: StreamName, piece: string): void {
    const line = this.pending[stream];
    // Past the bound, send what is held as a part of the line and keep assembling the rest.
    while (line.length + piece.length > this.opts.maxLineChars) {
      let take = this.opts.maxLineChars - line.length;
      if (take > 0 && isHighSurrogate(piece.charCodeAt(take - 1))) take--;
      line.pieces.push(piece.slice(0, take));
      line.length += take;
      piece = piece.slice(take);
      this.emitLine(stream, true);
    }
    if (piece.length === 0) return;
    line.pieces.push(piece);
    line.length += piece.length;
  }

  private emitLine(stream: StreamName, continues: boolean): void {
    const line = this.pending[stream];
    if (line.length === 0) return;
    const { pieces, length } = line;
    // Reset in place: hold() keeps a reference to this object across emits.
    line.pieces = [];
    line.length = 0;
    if (length <= this.chunkChars && !continues) {
      const data = pieces.length === 1 ? pieces[0]! : pieces.join('');
      this.send({ type: stream, data, truncated: false, chunk_index: null, total_chunks: null });
      return;
    }
    const chunks = splitChunks(pieces, this.chunkChars);
    const last = chunks.length - 1;
    chunks.forEach((data, i) =>
      this.send({ type: stream, data, truncated: i < last || continues, chunk_index: i, total_chunks: chunks.length }),
    );
  }
}
