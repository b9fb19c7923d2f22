// Serialises one progress notification straight into the bytes a transport writes (a "ready frame"), piece by piece.

/** The fields of a notifications/progress besides its message. */
export interface ProgressFields {
  progressToken: string | number;
  progress: number;
  total?: number;
  _meta: Record<string, unknown>;
}

/**
 * Characters JSON-escaped at a time. Escaping can grow text six-fold (a NUL becomes \u0000): 16 Ki
 * characters stay under 96 Ki after escaping, below V8's 128 KiB large-object threshold, so no string on
 * this path lands in the large-object space (which only a full GC frees).
 */
const PIECE_CHARS = 16 * 1024;

/** The escaped form of `text` without its quotes, in pieces of at most PIECE_CHARS characters each before escaping. */
function escapedPieces(text: string, out: string[]): void {
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + PIECE_CHARS);
    // Never split a surrogate pair: each half alone would be escaped as a lone surrogate.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--;
    const quoted = JSON.stringify(end - start === text.length ? text : text.slice(start, end));
    out.push(quoted.slice(1, -1));
    start = end;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * The UTF-8 bytes of `{"jsonrpc":"2.0","method":"notifications/progress","params":{...,"message":…}}` with
 * `message` the concatenation of `texts`, exactly what JSON.stringify of that object would produce (key order
 * aside). The message is never built as one string: each text is escaped in pieces and written into one
 * buffer, so the only large allocation is the buffer itself, outside V8's heap (`alloc` may hand out reused memory).
 */
export function progressFrame(
  fields: ProgressFields,
  texts: readonly string[],
  alloc: (size: number) => Buffer = (size) => Buffer.allocUnsafe(size),
): Buffer {
  const head =
    `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":${JSON.stringify(fields.progressToken)},` +
    `"progress":${JSON.stringify(fields.progress)}` +
    (fields.total !== undefined ? `,"total":${JSON.stringify(fields.total)}` : '') +
    `,"message":"`;
  const tail = `","_meta":${JSON.stringify(fields._meta)}}}`;
  const pieces: string[] = [];
  for (const text of texts) escapedPieces(text, pieces);
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail);
  for (const piece of pieces) size += Buffer.byteLength(piece);
  const frame = alloc(size);
  let offset = frame.write(head, 0);
  for (const piece of pieces) offset += frame.write(piece, offset);
  offset += frame.write(tail, offset);
  if (offset !== size) throw new Error(`progress frame: wrote ${offset} of ${size} bytes`);
  return frame;
}
