// progressFrame on its own: the bytes it builds are the JSON of the notification, whatever the text holds.
import { describe, expect, it } from 'vitest';
import { ESCAPE_PIECE_BYTES, JsonBytesEscaper } from '../../src/processes/json-bytes-escaper.js';
import { progressFrame } from '../../tools/progress-frame.js';

const FIELDS = { progressToken: 'tok "1"', progress: 12, total: 40, _meta: { 'cc-executor/seq': 3 } };

/** The frame's own key order: message before _meta. */
function exact(message: string): Buffer {
  const { _meta, ...rest } = FIELDS;
  return Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { ...rest, message, _meta } }), 'utf8');
}

function expected(message: string, fields: object = FIELDS): Buffer {
  return Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { ...fields, message } }), 'utf8');
}

describe('progressFrame', () => {
  it('builds the same bytes JSON.stringify would for the concatenated texts (key order as the frame writes it)', () => {
    const texts = ['a\n', 'b "quoted" \\ back\n', '', 'tab\there\r\n'];
    const frame = progressFrame(FIELDS, texts);
    expect(JSON.parse(frame.toString('utf8'))).toEqual(JSON.parse(expected(texts.join('')).toString('utf8')));
    expect(frame.length).toBe(expected(texts.join('')).length);
  });

  it('escapes a text larger than one piece in pieces and still decodes to the text, NUL bytes and emoji across piece edges included', () => {
    // 16 Ki characters per piece: put a surrogate pair exactly across the first edge, and 40 Ki NULs after it.
    const text = 'x'.repeat(16 * 1024 - 1) + '😀' + '\u0000'.repeat(40 * 1024) + 'ü€'.repeat(5_000);
    const frame = progressFrame({ progressToken: 7, progress: 1, _meta: {} }, [text]);
    const parsed = JSON.parse(frame.toString('utf8')) as { params: { message: string; total?: number } };
    expect(parsed.params.message).toBe(text);
    expect(parsed.params.total).toBeUndefined();
    // No lone surrogate was escaped: the emoji is written as its UTF-8 bytes, as JSON.stringify writes it.
    expect(frame.length).toBe(expected(text, { progressToken: 7, progress: 1, _meta: {} }).length);
  });

  it('escapes output given as UTF-8 bytes without decoding it: the same bytes as the text, characters cut across pieces included', () => {
    // A 3-byte and a 4-byte character straddle the 16 KiB piece edges; control bytes, quotes and backslashes around them.
    const text = 'y'.repeat(16 * 1024 - 1) + '€' + 'z'.repeat(16 * 1024 - 2) + '😀' + '\u0000 "q" \\ \t\n\u001f\u007f ü'.repeat(3_000);
    const bytes = Buffer.from(text, 'utf8');
    const parts = [bytes.subarray(0, 40_000), 'notice "between"\n', bytes.subarray(40_000)];
    const frame = progressFrame(FIELDS, parts);
    const message = `${text.slice(0, Buffer.from(bytes.subarray(0, 40_000)).toString('utf8').length)}notice "between"\n${bytes.subarray(40_000).toString('utf8')}`;
    expect(frame.toString('utf8')).toBe(exact(message).toString('utf8'));
    expect(frame.equals(exact(message))).toBe(true);
  });

  it('escapes every ASCII byte as JSON.stringify does, wherever it falls in a 4-byte word and at the very end', () => {
    const ascii = Buffer.from(Array.from({ length: 128 }, (_, c) => c));
    // Clean runs of 1 to 7 bytes between the bytes that need escaping move them across word edges; odd starts
    // (a part sliced out of a larger buffer) and lengths leave 1 to 3 bytes after the last whole word.
    const text = Array.from(ascii, (c, i) => `${'ab c'.repeat(2).slice(0, 1 + (i % 7))}${String.fromCharCode(c)}`).join('');
    const whole = Buffer.from(`!${text}`, 'utf8');
    for (let start = 1; start <= 4; start++) {
      for (const end of [whole.length, whole.length - 1, whole.length - 2, whole.length - 3]) {
        const part = whole.subarray(start, end);
        const frame = progressFrame(FIELDS, [part]);
        expect(frame.equals(exact(part.toString('utf8')))).toBe(true);
      }
    }
  });

  it('writes an empty message as "" whether it has no parts or only empty ones', () => {
    for (const parts of [[], [''], [Buffer.alloc(0)]]) {
      const frame = progressFrame(FIELDS, parts);
      expect(frame.equals(exact(''))).toBe(true);
    }
  });
});

describe('progressFrame with the bytes escaper', () => {
  const escaper = JsonBytesEscaper.create()!;
  const escaping = { escaper, maxFrameBytes: 80 * 1024 };

  it('builds the same bytes as without it for output given as bytes, one part or several, with a non-ASCII progress token', () => {
    const text = 'line "one" \\ \t ü € 😀\n'.repeat(1_500) + '\u0000\u001f\u007f end';
    const bytes = Buffer.from(text, 'utf8');
    const fields = { ...FIELDS, progressToken: 'jeton « é »' };
    for (const parts of [[bytes], [bytes.subarray(0, 10_001), bytes.subarray(10_001)], [Buffer.alloc(0)]]) {
      const plain = progressFrame(fields, parts);
      const fast = progressFrame(fields, parts, undefined, escaping);
      expect(fast.equals(plain)).toBe(true);
      expect(JSON.parse(fast.toString('utf8')).params.message).toBe(Buffer.concat(parts).toString('utf8'));
    }
  });

  it('builds the same bytes for text parts, heavily escaped output and more bytes than one piece (the string path)', () => {
    const nul = Buffer.alloc(20_000); // 120,000 bytes escaped: over 80 KiB
    const big = Buffer.alloc(ESCAPE_PIECE_BYTES + 10, 'x');
    for (const parts of [['text "part"\n'], [Buffer.from('a'), 'b'], [nul], [big]]) {
      expect(progressFrame(FIELDS, parts, undefined, escaping).equals(progressFrame(FIELDS, parts))).toBe(true);
    }
  });

  it('leaves a frame that would be larger than maxFrameBytes to the string path', () => {
    // A stand-in escaper whose output shows in the frame when it is used: 200 bytes of "X".
    const marked = { escapeAll: () => Buffer.alloc(200, 'X') } as unknown as JsonBytesEscaper;
    const parts = [Buffer.from('out\n')];
    const over = progressFrame(FIELDS, parts, undefined, { escaper: marked, maxFrameBytes: 250 });
    expect(over.equals(progressFrame(FIELDS, parts))).toBe(true);
    const under = progressFrame(FIELDS, parts, undefined, { escaper: marked, maxFrameBytes: 10_000 });
    expect(under.toString()).toContain(`"message":"${'X'.repeat(200)}"`);
  });
});
