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
 * Split `text` into pieces of at most `max` code units, never between the two halves of a
 * surrogate pair (a client that counts code points, like Python, must get whole characters).
 */
export function splitChunks(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + max, text.length);
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    out.push(text.slice(start, end));
    start = end;
  }
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
    const text = line.pieces.length === 1 ? line.pieces[0]! : line.pieces.join('');
    // Reset in place: hold() keeps a reference to this object across emits.
    line.pieces = [];
    line.length = 0;
    if (text.length <= this.chunkChars && !continues) {
      this.send({ type: stream, data: text, truncated: false, chunk_index: null, total_chunks: null });
      return;
    }
    const chunks = splitChunks(text, this.chunkChars);
    const last = chunks.length - 1;
    chunks.forEach((data, i) =>
      this.send({ type: stream, data, truncated: i < last || continues, chunk_index: i, total_chunks: chunks.length }),
    );
  }
}
