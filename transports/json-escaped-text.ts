// Text written JSON-escaped (the inside of `JSON.stringify(text)`, as UTF-8) straight into a buffer, with no string made.

/** Characters JSON.stringify escapes (controls, `"`, `\`) and surrogates (escaped when alone). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

const HEX = '0123456789abcdef';

/** The two-character escapes JSON.stringify uses for these controls; every other control is \u00XX. */
const SHORT_ESCAPES: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72, 0x22: 0x22, 0x5c: 0x5c };

/**
 * Bytes that `writeJsonEscaped(buffer, offset, text)` writes: `Buffer.byteLength(JSON.stringify(text)) - 2`.
 * Why not JSON.stringify: its result is a new string up to six times the text (a NUL is `\u0000`). On the
 * original protocol's output path that garbage drove scavenges often enough that output held for a slow
 * reader (a line assembled across reads, notifications waiting for the flow meter) survived two of them and
 * was promoted: old space grew by about the output's size until a full GC (+20-33 MiB of RSS for NUL bytes).
 */
export function escapedJsonBytes(text: string): number {
  if (!NEEDS_CARE.test(text)) return Buffer.byteLength(text);
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += c < 0x20 || c === 0x22 || c === 0x5c ? (SHORT_ESCAPES[c] !== undefined ? 2 : 6) : 1;
    else if (c < 0x800) bytes += 2;
    else if (c < 0xd800 || c > 0xdfff) bytes += 3;
    else if (c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 6; // a lone surrogate: \udXXX
  }
  return bytes;
}

/**
 * Write `text` JSON-escaped, without its quotes, at `offset`, exactly as JSON.stringify escapes it (lone
 * surrogates as \uXXXX, everything else as UTF-8); returns the bytes written. The caller sizes the buffer
 * with escapedJsonBytes.
 */
export function writeJsonEscaped(buffer: Buffer, offset: number, text: string): number {
  if (!NEEDS_CARE.test(text)) return buffer.write(text, offset, 'utf8');
  let o = offset;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) buffer[o++] = c;
      else {
        buffer[o++] = 0x5c; // backslash
        const short = SHORT_ESCAPES[c];
        if (short !== undefined) buffer[o++] = short;
        else o = writeUnicodeEscape(buffer, o, c);
      }
    } else if (c < 0x800) {
      buffer[o++] = 0xc0 | (c >> 6);
      buffer[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      buffer[o++] = 0xe0 | (c >> 12);
      buffer[o++] = 0x80 | ((c >> 6) & 0x3f);
      buffer[o++] = 0x80 | (c & 0x3f);
    } else if (c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      const point = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      buffer[o++] = 0xf0 | (point >> 18);
      buffer[o++] = 0x80 | ((point >> 12) & 0x3f);
      buffer[o++] = 0x80 | ((point >> 6) & 0x3f);
      buffer[o++] = 0x80 | (point & 0x3f);
    } else {
      buffer[o++] = 0x5c;
      o = writeUnicodeEscape(buffer, o, c);
    }
  }
  return o - offset;
}

/** `uXXXX` (lowercase hex, as JSON.stringify writes it) after the backslash already written. */
function writeUnicodeEscape(buffer: Buffer, offset: number, code: number): number {
  buffer[offset] = 0x75; // u
  for (let shift = 12, o = offset + 1; shift >= 0; shift -= 4, o++) buffer[o] = HEX.charCodeAt((code >> shift) & 0xf);
  return offset + 5;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
