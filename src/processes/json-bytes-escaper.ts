// JSON-escapes UTF-8 output bytes 16 at a time in a tiny WebAssembly (SIMD) function: what JSON.stringify does, at a fraction of its cost.

/**
 * Why: escaping output for its progress frame was the server's largest single cost while streaming (V8's
 * JsonStringifier::SerializeString, about a quarter of the main thread, ~1.6 s per GiB here), paid per byte on
 * top of the plain copy. JSON.stringify looks at every character on its own; this looks at 16 bytes at once and
 * copies runs that need no escaping (nearly all of them: a line of text has one `\n`) with one 16-byte store.
 * The module is assembled here from its instructions (no build step, no binary file): `escape` below is the
 * whole program, and test/processes/json-bytes-escaper.test.ts holds its output byte for byte against JSON.stringify.
 */

/** Input bytes escaped per call: the scratch memory holds this much input and six times as much output. */
export const ESCAPE_PIECE_BYTES = 64 * 1024;

// Scratch memory layout (bytes): escape table, hex digits, the input piece, the output.
const TABLE = 0; // 0x60 entries: 0 = copied as it is, else the letter after the backslash ('u': \u00XX)
const HEX = 0x60; // "0123456789abcdef"
const IN = 1024;
const OUT = IN + ESCAPE_PIECE_BYTES;
/** Worst case: every byte becomes \u00XX (6 bytes); a 16-byte store may write up to 15 bytes past the end. */
const OUT_BYTES = 6 * ESCAPE_PIECE_BYTES + 16;
const PAGES = Math.ceil((OUT + OUT_BYTES) / 65536);

/** The escape table: the two-character escapes JSON.stringify uses, \u00XX for the other controls, `"` and `\`. */
function escapeTable(): number[] {
  const table = new Array<number>(0x60).fill(0);
  for (let c = 0; c < 0x20; c++) table[c] = 0x75; // u
  const short: Record<number, string> = { 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0c: 'f', 0x0d: 'r', 0x22: '"', 0x5c: '\\' };
  for (const [c, letter] of Object.entries(short)) table[Number(c)] = letter.charCodeAt(0);
  return table;
}

/** LEB128 of an unsigned integer (wasm's encoding of sizes, indices and immediates). */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(text: string): number[] {
  return [...uleb(text.length), ...Buffer.from(text, 'latin1')];
}

// Opcodes used below (core and SIMD: 0xfd prefix).
const I32 = 0x7f;
const V128 = 0x7b;
const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  load8u: 0x2d,
  store8: 0x3a,
  const: 0x41,
  eqz: 0x45,
  eq: 0x46,
  ltU: 0x49,
  geU: 0x4f,
  gtU: 0x4b,
  ctz: 0x68,
  add: 0x6a,
  sub: 0x6b,
  and: 0x71,
  shrU: 0x76,
  void: 0x40,
} as const;
const simd = (code: number): number[] => [0xfd, ...uleb(code)];
const v128Load = [...simd(0x00), 0x00, 0x00]; // align 1, offset 0
const v128Store = [...simd(0x0b), 0x00, 0x00];
const i8x16Splat = simd(0x0f);
const i8x16Eq = simd(0x23);
const i8x16LtU = simd(0x26);
const v128Or = simd(0x50);
const i8x16Bitmask = simd(0x64);
const mem8 = [0x00, 0x00]; // memarg of a byte load/store: align 1, offset 0
const i32 = (n: number): number[] => [op.const, ...sleb(n)];

/**
 * func 0 `escape(src, len, dst) -> bytes written`: the bytes at src..src+len JSON-escaped to dst.
 * func 1 `one(b, o) -> o'`: one byte written at o, escaped when it must be.
 */
function moduleBytes(): Uint8Array {
  // escape: params src 0, len 1, dst 2; locals i 3, o 4, mask 5, v 6 (v128)
  const [src, len, dst, i, o, mask, v] = [0, 1, 2, 3, 4, 5, 6];
  const needsEscape = (splat: number, cmp: number[]): number[] => [op.get, v, ...i32(splat), ...i8x16Splat, ...cmp];
  // One line per step, as the program reads (prettier would put one number per line).
  // prettier-ignore
  const escape = [
    ...vector([[...uleb(3), I32], [...uleb(1), V128]]), // locals: 3 x i32, 1 x v128
    op.get, dst, op.set, o,
    // 16 bytes at a time while 16 are left: store them all, then keep as many as precede the first byte to escape.
    op.block, op.void,
    op.loop, op.void,
    op.get, i, ...i32(16), op.add, op.get, len, op.gtU, op.brIf, 1,
    op.get, src, op.get, i, op.add, ...v128Load, op.set, v,
    op.get, o, op.get, v, ...v128Store,
    ...needsEscape(0x20, i8x16LtU), ...needsEscape(0x22, i8x16Eq), ...v128Or, ...needsEscape(0x5c, i8x16Eq), ...v128Or,
    ...i8x16Bitmask, op.tee, mask, op.eqz,
    op.if, op.void,
    op.get, o, ...i32(16), op.add, op.set, o,
    op.get, i, ...i32(16), op.add, op.set, i,
    op.br, 1,
    op.end,
    // The bytes before the first one to escape are in place; that one is escaped, and the scan goes on after it.
    op.get, o, op.get, mask, op.ctz, op.add, op.set, o,
    op.get, i, op.get, mask, op.ctz, op.add, op.set, i,
    op.get, src, op.get, i, op.add, op.load8u, ...mem8, op.get, o, op.call, 1, op.set, o,
    op.get, i, ...i32(1), op.add, op.set, i,
    op.br, 0,
    op.end,
    op.end,
    // The last 0-15 bytes one at a time.
    op.block, op.void,
    op.loop, op.void,
    op.get, i, op.get, len, op.geU, op.brIf, 1,
    op.get, src, op.get, i, op.add, op.load8u, ...mem8, op.get, o, op.call, 1, op.set, o,
    op.get, i, ...i32(1), op.add, op.set, i,
    op.br, 0,
    op.end,
    op.end,
    op.get, o, op.get, dst, op.sub,
    op.end,
  ];
  // one: params b 0, o 1; local e 2
  const [b, at, e] = [0, 1, 2];
  // prettier-ignore
  const one = [
    ...vector([[...uleb(1), I32]]),
    // e = b < 0x60 ? TABLE[b] : 0
    op.get, b, ...i32(0x60), op.ltU,
    op.if, I32, op.get, b, ...i32(TABLE), op.add, op.load8u, ...mem8, op.else, ...i32(0), op.end,
    op.tee, e, op.eqz,
    op.if, I32,
    op.get, at, op.get, b, op.store8, ...mem8,
    op.get, at, ...i32(1), op.add,
    op.else,
    op.get, at, ...i32(0x5c), op.store8, ...mem8,
    op.get, at, ...i32(1), op.add, op.get, e, op.store8, ...mem8,
    op.get, e, ...i32(0x75), op.eq,
    op.if, I32,
    op.get, at, ...i32(2), op.add, ...i32(0x30), op.store8, ...mem8,
    op.get, at, ...i32(3), op.add, ...i32(0x30), op.store8, ...mem8,
    op.get, at, ...i32(4), op.add, op.get, b, ...i32(4), op.shrU, ...i32(HEX), op.add, op.load8u, ...mem8, op.store8, ...mem8,
    op.get, at, ...i32(5), op.add, op.get, b, ...i32(15), op.and, ...i32(HEX), op.add, op.load8u, ...mem8, op.store8, ...mem8,
    op.get, at, ...i32(6), op.add,
    op.else,
    op.get, at, ...i32(2), op.add,
    op.end,
    op.end,
    op.end,
  ];
  const data = [...escapeTable(), ...Buffer.from('0123456789abcdef', 'latin1')];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(
      1,
      vector([
        [0x60, ...vector([[I32], [I32], [I32]]), ...vector([[I32]])],
        [0x60, ...vector([[I32], [I32]]), ...vector([[I32]])],
      ]),
    ),
    ...section(3, vector([uleb(0), uleb(1)])),
    ...section(5, vector([[0x01, ...uleb(PAGES), ...uleb(PAGES)]])),
    ...section(
      7,
      vector([
        [...name('escape'), 0x00, 0x00],
        [...name('memory'), 0x02, 0x00],
      ]),
    ),
    ...section(
      10,
      vector([
        [...uleb(escape.length), ...escape],
        [...uleb(one.length), ...one],
      ]),
    ),
    ...section(11, vector([[0x00, ...i32(TABLE), op.end, ...uleb(data.length), ...data]])),
  ]);
}

/** The part of the WebAssembly global used here (its types are not among @types/node 20's globals). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

/**
 * One instance's scratch memory: `escape(bytes)` returns a view of it holding the escaped bytes, valid until the
 * next call. Synchronous and self-contained: nothing of a call survives into the next one, so one escaper
 * serves every caller on the thread.
 */
export class JsonBytesEscaper {
  private readonly memory: Buffer;
  private readonly run: (src: number, len: number, dst: number) => number;

  /**
   * An escaper, or undefined where WebAssembly is off (`node --jitless` has no WebAssembly global): callers
   * then escape with JSON.stringify, as before.
   */
  static create(): JsonBytesEscaper | undefined {
    const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
    return wasm === undefined ? undefined : new JsonBytesEscaper(wasm);
  }

  private constructor(wasm: WasmApi) {
    const exports = new wasm.Instance(new wasm.Module(moduleBytes())).exports as {
      escape: (src: number, len: number, dst: number) => number;
      memory: { buffer: ArrayBuffer };
    };
    // The memory never grows (its maximum is its size), so this view stays valid.
    this.memory = Buffer.from(exports.memory.buffer);
    this.run = exports.escape;
  }

  /**
   * `bytes` (at most ESCAPE_PIECE_BYTES) JSON-escaped without quotes, exactly as the inside of
   * JSON.stringify(bytes.toString('latin1')) written back as latin1: for valid UTF-8 that is the UTF-8 of the
   * escaped text. Returns a view of scratch memory that the next call overwrites.
   */
  escape(bytes: Buffer): Buffer {
    const escaped = this.escapeAll([bytes]);
    if (escaped === null) throw new RangeError(`escape: ${bytes.length} bytes, at most ${ESCAPE_PIECE_BYTES} per call`);
    return escaped;
  }

  /**
   * The concatenation of `parts` escaped as escape() does, or null when they hold more than
   * ESCAPE_PIECE_BYTES together (the caller escapes them another way).
   */
  escapeAll(parts: readonly Buffer[]): Buffer | null {
    let size = 0;
    for (const part of parts) size += part.length;
    if (size > ESCAPE_PIECE_BYTES) return null;
    let at = IN;
    for (const part of parts) at += part.copy(this.memory, at);
    const n = this.run(IN, size, OUT);
    return this.memory.subarray(OUT, OUT + n);
  }
}
