// Serialises one progress notification straight into the bytes a transport writes (a "ready frame"), piece by piece.

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
 * One escaped part of the message and its size on the wire: text is escaped by JSON.stringify into `quoted`
 * (quotes included, written without them), output bytes are escaped straight into the frame (writeEscaped).
 */
type Piece = { quoted: string; size: number } | { bytes: Buffer; size: number };

/** The escaped form of `text`, in pieces of at most PIECE_CHARS characters each before escaping. */
function escapeText(text: string, out: Piece[]): void {
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + PIECE_CHARS);
    // Never split a surrogate pair: each half alone would be escaped as a lone surrogate.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    const quoted = JSON.stringify(end - start === text.length ? text : text.slice(start, end));
    out.push({ quoted, size: Buffer.byteLength(quoted) - 2 });
    start = end;
  }
}

/** The two-character escapes JSON.stringify writes, by byte value. */
const SHORT_ESCAPES: Readonly<Record<number, number>> = { 8: 0x62, 9: 0x74, 10: 0x6e, 12: 0x66, 13: 0x72, 0x22: 0x22, 0x5c: 0x5c };

/** Bytes JSON escaping adds to each byte value: 1 for `\n`-style escapes, 5 for `\u00XX`, 0 for a byte written as it is. */
const EXTRA_BYTES = escapeTable((c) => (SHORT_ESCAPES[c] !== undefined ? 1 : c < 0x20 ? 5 : 0));
/** The letter after the backslash of a short escape (0 where there is none): JSON.stringify's own choice. */
const SHORT_LETTER = escapeTable((c) => SHORT_ESCAPES[c] ?? 0);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

function escapeTable(value: (byte: number) => number): Uint8Array {
  const table = new Uint8Array(256);
  for (let c = 0; c < 256; c++) table[c] = value(c);
  return table;
}

/**
 * Non-zero when one of the 4 bytes of `word` needs escaping in a JSON string (a control byte, `"` or `\`), as
 * a bit trick: the classic "has a byte below n" and "has a zero byte" tests on 32 bits. It can flag a word
 * whose only escaped byte is there (never miss one); a flagged word is then looked at byte by byte.
 */
function needsEscape(word: number): number {
  const quote = word ^ 0x22222222;
  const backslash = word ^ 0x5c5c5c5c;
  return (((word - 0x20202020) & ~word) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) & 0x80808080;
}

/**
 * Size of `bytes` once escaped for a JSON string, without quotes. Why words: output is text, where most
 * 4-byte words need nothing, so a word costs one test instead of four table lookups.
 */
function escapedLength(bytes: Buffer): number {
  const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = bytes.length;
  let extra = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    if (needsEscape(words.getUint32(i, true)) !== 0)
      extra += EXTRA_BYTES[bytes[i]!]! + EXTRA_BYTES[bytes[i + 1]!]! + EXTRA_BYTES[bytes[i + 2]!]! + EXTRA_BYTES[bytes[i + 3]!]!;
  }
  for (; i < n; i++) extra += EXTRA_BYTES[bytes[i]!]!;
  return n + extra;
}

/** Write byte `c`, which needs escaping, at `o` in `out`; returns the offset after it. */
function writeEscape(c: number, out: Buffer, o: number): number {
  out[o++] = 0x5c;
  const letter = SHORT_LETTER[c]!;
  if (letter !== 0) {
    out[o++] = letter;
    return o;
  }
  out[o++] = 0x75; // \u00XX
  out[o++] = 0x30;
  out[o++] = 0x30;
  out[o++] = HEX_DIGITS[c >> 4]!;
  out[o++] = HEX_DIGITS[c & 15]!;
  return o;
}

/**
 * Write valid UTF-8 `bytes` escaped for a JSON string (no quotes) at `o` in `out`, which has escapedLength()
 * bytes of room there; returns the offset after them. Why bytes: every byte that needs escaping in UTF-8 JSON
 * is below 0x80 and bytes of multi-byte characters are never escaped, so the output is escaped as it is,
 * never decoded: no string at all is made (a flood's strings were most of the server's garbage), clean words
 * are copied four bytes at a time, and a part may cut a character in two (the bytes join up again).
 * The escapes are JSON.stringify's: `\b \t \n \f \r \" \\`, else `\u00xx`.
 */
function writeEscaped(bytes: Buffer, out: Buffer, o: number): number {
  const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const outWords = new DataView(out.buffer, out.byteOffset, out.length);
  const n = bytes.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const word = words.getUint32(i, true);
    if (needsEscape(word) === 0) {
      outWords.setUint32(o, word, true);
      o += 4;
      continue;
    }
    for (let j = i; j < i + 4; j++) {
      const c = bytes[j]!;
      if (EXTRA_BYTES[c] === 0) out[o++] = c;
      else o = writeEscape(c, out, o);
    }
  }
  for (; i < n; i++) {
    const c = bytes[i]!;
    if (EXTRA_BYTES[c] === 0) out[o++] = c;
    else o = writeEscape(c, out, o);
  }
  return o;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * The UTF-8 bytes of `{"jsonrpc":"2.0","method":"notifications/progress","params":{...,"message":…}}` with
 * `message` the concatenation of `parts`, exactly what JSON.stringify of that object would produce (key order
 * aside). A part is text, or output as valid UTF-8 bytes (a Buffer: never decoded, see writeEscaped). The
 * message is never built as one string: parts are escaped into one buffer of the exact size, the only large
 * allocation, outside V8's heap (`alloc` may hand out reused memory).
 */
export function progressFrame(
  fields: ProgressFields,
  parts: readonly (string | Buffer)[],
  alloc: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
): Buffer {
  const head =
    `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":${JSON.stringify(fields.progressToken)},` +
    `"progress":${JSON.stringify(fields.progress)}` +
    (fields.total !== undefined ? `,"total":${JSON.stringify(fields.total)}` : '') +
    `,"message":"`;
  const tail = `","_meta":${JSON.stringify(fields._meta)}}}`;
  const pieces: Piece[] = [];
  for (const part of parts) {
    if (typeof part === 'string') escapeText(part, pieces);
    else if (part.length > 0) pieces.push({ bytes: part, size: escapedLength(part) });
  }
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail);
  for (const piece of pieces) size += piece.size;
  const frame = alloc(size);
  let offset = frame.write(head, 0);
  for (const piece of pieces) {
    if ('bytes' in piece) {
      offset = writeEscaped(piece.bytes, frame, offset);
      continue;
    }
    // Written from the byte before, without the closing quote: the opening quote lands on that byte, which
    // is put back (no slice of the escaped string is made). There is one: the message's opening quote.
    const before = frame[offset - 1]!;
    frame.write(piece.quoted, offset - 1, piece.size + 1, 'utf8');
    frame[offset - 1] = before;
    offset += piece.size;
  }
  offset += frame.write(tail, offset);
  if (offset !== size) throw new Error(`progress frame: wrote ${offset} of ${size} bytes`);
  return frame;
}
