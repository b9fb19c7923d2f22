// Cuts a pipe's byte stream into chunks of whole UTF-8 characters, each at most a given size, without decoding it.
import { isUtf8 } from 'node:buffer';

/** One piece of output: whole UTF-8 characters, and how many bytes of the pipe it stands for. */
export interface Utf8Piece {
  raw: Buffer;
  /** Pipe bytes this piece accounts for: raw.length, except where invalid input was replaced by U+FFFD. */
  bytes: number;
}

/** Bytes a UTF-8 sequence has, from its lead byte (0 for a continuation byte or a byte no sequence starts with). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead < 0xc2) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf5) return 4;
  return 0;
}

/** Where a character that `data` ends in the middle of starts (data.length when it ends on a boundary). */
function completeLength(data: Buffer): number {
  const n = data.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const b = data[i]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const need = sequenceLength(b);
    return need > n - i ? i : n;
  }
  return n;
}

/**
 * The streaming counterpart of `buffer.toString('utf8')` that keeps bytes: a character split across reads
 * is held until it is whole, valid input passes through uncopied, and invalid input is replaced by U+FFFD
 * as Node's decoder does (so the chunks' bytes are always what their text encodes to). Pieces are cut at
 * character boundaries to at most `maxBytes` each (a progress notification then never carries more).
 */
export class Utf8Chunker {
  /** The start of a character the last read ended inside (1 to 3 bytes). */
  private carry: Buffer | null = null;

  constructor(private readonly maxBytes: number) {}

  /** The whole characters `data` completes, in pieces of at most maxBytes. */
  write(data: Buffer): Utf8Piece[] {
    const input = this.carry ? Buffer.concat([this.carry, data]) : data;
    this.carry = null;
    const whole = completeLength(input);
    if (whole < input.length) this.carry = Buffer.from(input.subarray(whole));
    return this.pieces(input.subarray(0, whole));
  }

  /** The stream ended: what is held (an incomplete character) comes out as U+FFFD. */
  end(): Utf8Piece[] {
    const rest = this.carry;
    this.carry = null;
    return rest ? this.pieces(rest) : [];
  }

  private pieces(body: Buffer): Utf8Piece[] {
    if (body.length === 0) return [];
    const pipeBytes = body.length;
    // Valid input (nearly all output) is kept as it came; invalid input is decoded with replacement and re-encoded.
    const raw = isUtf8(body) ? body : Buffer.from(body.toString('utf8'), 'utf8');
    if (raw.length <= this.maxBytes) return [{ raw, bytes: pipeBytes }];
    const out: Utf8Piece[] = [];
    let left = pipeBytes;
    for (let start = 0; start < raw.length;) {
      let end = Math.min(raw.length, start + this.maxBytes);
      // Back up to a character boundary (raw is valid UTF-8; a single character is at most 4 bytes).
      while (end < raw.length && end > start + 1 && (raw[end]! & 0xc0) === 0x80) end--;
      const piece = raw.subarray(start, end);
      const last = end >= raw.length;
      // Pieces count their own size; the last takes what is left of the pipe's bytes (differs only after replacement).
      const bytes = last ? left : Math.min(left, piece.length);
      left -= bytes;
      out.push({ raw: piece, bytes });
      start = end;
    }
    return out;
  }
}
