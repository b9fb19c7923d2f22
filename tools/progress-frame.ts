// Serialises one progress notification straight into the bytes a transport writes (a "ready frame"), piece by piece.
import type { JsonBytesEscaper } from '../src/processes/json-bytes-escaper.js';

/** The fields of a notifications/progress besides its message. */
export interface ProgressFields {
  progressToken: string | number;
  progress: number;
  total?: number;
  _meta: Record<string, unknown>;
}

/**
 * Characters (or bytes) JSON-escaped at a time. Escaping can grow text six-fold (a NUL becomes \u0000): 16 Ki
 * characters stay under 96 Ki after escaping, below V8's 128 KiB large-object threshold, so no string on
 * this path lands in the large-object space (which only a full GC frees).
 */
const PIECE_CHARS = 16 * 1024;

/**
 * One escaped piece, quotes included, and how it is written: `latin1` pieces stand for UTF-8 bytes one
 * character per byte (see escapeBytes), the others are text written as UTF-8.
 */
interface Piece {
  quoted: string;
  latin1: boolean;
}

/** The escaped form of `text`, in pieces of at most PIECE_CHARS characters each before escaping. */
function escapeText(text: string, out: Piece[]): void {
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + PIECE_CHARS);
    // Never split a surrogate pair: each half alone would be escaped as a lone surrogate.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    out.push({ quoted: JSON.stringify(end - start === text.length ? text : text.slice(start, end)), latin1: false });
    start = end;
  }
}

/**
 * The escaped form of valid UTF-8 `bytes`, without decoding them. Why: read as latin1, each byte becomes
 * one character of the same value, which JSON.stringify escapes exactly when the byte needs escaping in
 * UTF-8 JSON (control bytes, `"` and `\`: all below 0x80; bytes of multi-byte characters are never escaped,
 * and a latin1 string has no surrogates). Written back as latin1 those characters are the original bytes.
 * So the frame costs a byte copy each way instead of a UTF-8 decode, a length scan and an encode, and the
 * size of every piece is its length. Pieces may cut a character in two: bytes are joined again on write.
 */
function escapeBytes(bytes: Buffer, out: Piece[]): void {
  for (let start = 0; start < bytes.length; start += PIECE_CHARS) {
    out.push({ quoted: JSON.stringify(bytes.toString('latin1', start, Math.min(bytes.length, start + PIECE_CHARS))), latin1: true });
  }
}

/** How output bytes may be escaped without JSON.stringify (see progressFrame). */
export interface BytesEscaping {
  escaper: JsonBytesEscaper;
  /**
   * Frames larger than this (heavily escaped output: a NUL is six bytes) are built the string way. Why: such a
   * frame is a buffer of its own, not pooled memory, and the strings JSON.stringify makes are the garbage that
   * starts the scavenges which free those buffers early; without them they pile up until a full GC.
   */
  maxFrameBytes: number;
}

/** The frame with `parts` escaped by the bytes escaper (one copy into the frame), or null when it does not apply. */
function escapedBytesFrame(
  head: string,
  tail: string,
  parts: readonly Buffer[],
  alloc: (size: number) => Buffer,
  { escaper, maxFrameBytes }: BytesEscaping,
): Buffer | null {
  const escaped = escaper.escapeAll(parts);
  if (escaped === null) return null;
  // head and tail may hold non-ASCII text (a progress token is the client's string): UTF-8, counted as such.
  const size = Buffer.byteLength(head) + escaped.length + Buffer.byteLength(tail) + 2;
  if (size > maxFrameBytes) return null;
  const frame = alloc(size);
  let offset = frame.write(head, 0);
  frame[offset++] = 0x22; // "
  offset += escaped.copy(frame, offset);
  frame[offset++] = 0x22;
  offset += frame.write(tail, offset);
  if (offset !== size) throw new Error(`progress frame: wrote ${offset} of ${size} bytes`);
  return frame;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * The UTF-8 bytes of `{"jsonrpc":"2.0","method":"notifications/progress","params":{...,"message":…}}` with
 * `message` the concatenation of `parts`, exactly what JSON.stringify of that object would produce (key order
 * aside). A part is text, or output as valid UTF-8 bytes (a Buffer: never decoded). The message is never built
 * as one string: each part is escaped in pieces and written into one buffer, so the only large allocation is
 * the buffer itself, outside V8's heap (`alloc` may hand out reused memory).
 */
export function progressFrame(
  fields: ProgressFields,
  parts: readonly (string | Buffer)[],
  alloc: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
  bytesEscaping?: BytesEscaping,
): Buffer {
  const head =
    `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":${JSON.stringify(fields.progressToken)},` +
    `"progress":${JSON.stringify(fields.progress)}` +
    (fields.total !== undefined ? `,"total":${JSON.stringify(fields.total)}` : '') +
    `,"message":`;
  const tail = `,"_meta":${JSON.stringify(fields._meta)}}}`;
  if (bytesEscaping && parts.length > 0 && parts.every((p) => typeof p !== 'string')) {
    const frame = escapedBytesFrame(head, tail, parts, alloc, bytesEscaping);
    if (frame !== null) return frame;
  }
  const pieces: Piece[] = [];
  for (const part of parts) {
    if (typeof part === 'string') escapeText(part, pieces);
    else escapeBytes(part, pieces);
  }
  // Pieces keep their quotes, so no string is sliced: each piece starts on the closing quote of the one before
  // and is written before it (last first), and every piece but the last is written without its closing quote,
  // its last character landing on the next one's opening quote. The message's quotes are the first piece's
  // opening and the last piece's closing one (no pieces: an empty message, `""`).
  const sizes = pieces.map((p) => (p.latin1 ? p.quoted.length : Buffer.byteLength(p.quoted)));
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail) + 2;
  for (const n of sizes) size += n - 2;
  const frame = alloc(size);
  let offset = frame.write(head, 0);
  if (pieces.length === 0) offset += frame.write('""', offset);
  else {
    const starts: number[] = [];
    for (const n of sizes) {
      starts.push(offset);
      offset += n - 2;
    }
    offset += 2;
    for (let i = pieces.length - 1; i >= 0; i--) {
      const length = i === pieces.length - 1 ? sizes[i]! : sizes[i]! - 1;
      frame.write(pieces[i]!.quoted, starts[i]!, length, pieces[i]!.latin1 ? 'latin1' : 'utf8');
    }
  }
  offset += frame.write(tail, offset);
  if (offset !== size) throw new Error(`progress frame: wrote ${offset} of ${size} bytes`);
  return frame;
}
