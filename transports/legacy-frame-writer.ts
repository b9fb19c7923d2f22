// Writes many small JSON messages as WebSocket text frames, framed by us into pooled buffers, one socket write per buffer.
import type { Duplex } from 'node:stream';
import { FramePool } from '../tools/frame-pool.js';
import { escapedJsonBytes, writeJsonEscaped } from './json-escaped-text.js';

/**
 * Size of each pooled buffer: a batch of frames is written in pieces of at most this many bytes. Room for
 * one whole chunk of a long ASCII line (65,536 characters) and its envelope, so that case is pooled too.
 */
const SLAB_BYTES = 80 * 1024;
/** Pending bytes of a connection the pool is sized for when the caller names none (the default highWaterBytes). */
const DEFAULT_HIGH_WATER_BYTES = 1024 * 1024;
/** Largest piece of JSON text write() takes: it must fit in one empty buffer. */
export const MAX_PIECE_BYTES = SLAB_BYTES - 16 * 1024;
/** Longest header of an unmasked server frame: 2 bytes, plus 8 for a 64-bit length. */
const MAX_HEADER_BYTES = 10;
/** FIN + text opcode: every frame is one whole message. */
const FIN_TEXT = 0x81;

/** Called for every buffer written: its size, and a promise that settles once it is written. */
export type BatchMeter = (bytes: number, written: Promise<unknown>) => void;

/** Text that is written JSON-escaped (the inside of its `JSON.stringify`, quotes not included). */
export interface EscapedText {
  readonly escape: string;
}

/**
 * One message as pieces whose concatenation is its JSON text (e.g. a constant envelope around one string):
 * JSON text as is, or text to escape. Written piece by piece into the frame's buffer, so neither the whole
 * message nor the escaped text ever exists as a string.
 */
export type JsonPieces = readonly (string | EscapedText)[];

/** A message's JSON text as one string (for senders without a pooled writer). */
export function joinJsonPieces(pieces: JsonPieces): string {
  return pieces.map((p) => (typeof p === 'string' ? p : JSON.stringify(p.escape).slice(1, -1))).join('');
}

/**
 * Why: the original protocol sends one notification per output line, so 64 MiB of short lines is about
 * 800,000 messages. Handed to `ws` one by one, each queued message (its JSON string, its header, its
 * callback and write request) outlived a scavenge while the reader paused and was promoted: +72 to
 * +86 MiB of old space on Node 20 before a full GC. Here a batch of messages is framed straight into a
 * reused buffer outside V8's heap and written with one callback: what waits for a slow reader is a few
 * buffers, not hundreds of thousands of small objects.
 *
 * Frames go to the upgraded socket itself, in order with `ws`'s own writes (with per-message deflate off,
 * `ws` writes each frame synchronously too). The caller checks the connection is open.
 */
export class LegacyFrameWriter {
  private readonly pool: FramePool;

  /**
   * @param highWaterBytes the connection's flow-meter high-water mark: what may be in flight, so the pool keeps
   *   that many empty buffers (fewer, and every pause of a slow reader would drop buffers it had promoted and allocate new ones)
   */
  constructor(
    private readonly socket: Duplex,
    private readonly meter: BatchMeter,
    highWaterBytes = DEFAULT_HIGH_WATER_BYTES,
  ) {
    this.pool = new FramePool(SLAB_BYTES, Math.ceil((2 * highWaterBytes) / SLAB_BYTES) + 2);
  }

  /**
   * Frame `messages` and write them, in order; resolves once all are written or the socket is gone. A frame
   * larger than what is left of a buffer continues in the next one (the socket sees one byte stream), so
   * every byte goes through pooled memory; each piece must fit in one empty buffer (MAX_PIECE_BYTES).
   */
  write(messages: readonly JsonPieces[]): Promise<void> {
    // Every size first: a buffer is taken at the size still to be written (a slab at most), so a small batch
    // takes its own size of shared memory (FramePool packs), not a whole slab. Why: a stalled client with a
    // line now and then in flight would otherwise hold a slab per line, 80 KiB for every ~100 metered bytes.
    const sizes = messages.map((pieces) =>
      pieces.map((piece) => {
        const n = typeof piece === 'string' ? Buffer.byteLength(piece) : escapedJsonBytes(piece.escape);
        if (n > MAX_PIECE_BYTES) throw new Error(`legacy frame: a piece of ${n} bytes is over ${MAX_PIECE_BYTES}`);
        return n;
      }),
    );
    const lengths = sizes.map((ns) => ns.reduce((a, b) => a + b, 0));
    let remaining = lengths.reduce((total, length) => total + headerBytes(length) + length, 0);
    let slab: Buffer | undefined;
    let used = 0;
    let payload = 0;
    let last: Promise<void> = Promise.resolve();
    const flush = () => {
      if (slab === undefined || used === 0) return;
      last = this.writeBuffer(slab.subarray(0, used), slab, payload);
      remaining -= used;
      slab = undefined;
      used = 0;
      payload = 0;
    };
    /** Room for `bytes` more in the current buffer (a new one when it is full). */
    const room = (bytes: number): Buffer => {
      if (slab !== undefined && used + bytes > slab.length) flush();
      return (slab ??= this.pool.take(Math.min(SLAB_BYTES, remaining)));
    };
    for (const [m, pieces] of messages.entries()) {
      const length = lengths[m]!;
      // A whole frame that fits stays in one buffer; a larger one starts in a fresh buffer.
      room(headerBytes(length) + Math.min(length, SLAB_BYTES - MAX_HEADER_BYTES));
      used = writeHeader(slab!, used, length);
      pieces.forEach((piece, i) => {
        const size = sizes[m]![i]!;
        const target = room(size);
        used += typeof piece === 'string' ? target.write(piece, used, 'utf8') : writeJsonEscaped(target, used, piece.escape);
        payload += size;
      });
    }
    flush();
    return last;
  }

  /** Metered as its messages' bytes (`payload`), like every other frame of the connection (`ws` headers are not counted). */
  private writeBuffer(bytes: Buffer, slab: Buffer, payload: number): Promise<void> {
    const written = new Promise<void>((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      // Once written, the memory serves the next batch; on an error the socket is gone and nobody reads it.
      this.socket.write(bytes, () => {
        this.pool.give(slab);
        resolve();
      });
    });
    this.meter(payload, written);
    return written;
  }
}

function headerBytes(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : MAX_HEADER_BYTES;
}

/** Write the header of an unmasked text frame of `length` payload bytes at `offset`; returns the payload's offset. */
function writeHeader(buffer: Buffer, offset: number, length: number): number {
  buffer[offset] = FIN_TEXT;
  if (length < 126) {
    buffer[offset + 1] = length;
    return offset + 2;
  }
  if (length < 65_536) {
    buffer[offset + 1] = 126;
    buffer.writeUInt16BE(length, offset + 2);
    return offset + 4;
  }
  buffer[offset + 1] = 127;
  buffer.writeBigUInt64BE(BigInt(length), offset + 2);
  return offset + MAX_HEADER_BYTES;
}
