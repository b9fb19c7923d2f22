// writeJsonEscaped / escapedJsonBytes: byte for byte what JSON.stringify writes, for every kind of character.
import { describe, expect, it } from 'vitest';
import { escapedJsonBytes, writeJsonEscaped } from '../../transports/json-escaped-text.js';

/** The bytes JSON.stringify(text) has between its quotes. */
function reference(text: string): Buffer {
  return Buffer.from(JSON.stringify(text).slice(1, -1), 'utf8');
}

function escaped(text: string): Buffer {
  const size = escapedJsonBytes(text);
  // Room on both sides: the writer must write exactly `size` bytes at the offset and nothing around them.
  const buffer = Buffer.alloc(size + 8, 0xaa);
  const written = writeJsonEscaped(buffer, 4, text);
  expect(written).toBe(size);
  expect(buffer.subarray(0, 4)).toEqual(Buffer.alloc(4, 0xaa));
  expect(buffer.subarray(4 + size)).toEqual(Buffer.alloc(4, 0xaa));
  return buffer.subarray(4, 4 + size);
}

describe('writeJsonEscaped', () => {
  it('writes what JSON.stringify writes for controls, quotes, backslashes, DEL, and 2-, 3- and 4-byte characters', () => {
    const cases = [
      '',
      'plain ascii text',
      '\u0000',
      '\u0000'.repeat(1000),
      'tab\there\nnew line\r\f\b\u000b\u001f\u007f',
      'say "hi" \\ back',
      'é ü ß ñ',
      '€ 中文 ﾃ',
      '𝄞 😀 two surrogate pairs',
      'lone high \ud800 then text',
      'lone low \udc00',
      'ends with a high surrogate \ud83d',
      '\udc00\ud800 reversed pair',
      'mixed \u0001"é€𝄞\\\n',
    ];
    for (const text of cases) expect(escaped(text), JSON.stringify(text)).toEqual(reference(text));
  });

  it('matches JSON.stringify on random strings of any UTF-16 code units', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    // Weighted towards the interesting ranges: controls, ASCII, 2-byte, 3-byte, surrogates.
    const ranges: Array<[number, number]> = [
      [0, 0x20],
      [0x20, 0x80],
      [0x80, 0x800],
      [0x800, 0xd800],
      [0xd800, 0xdc00],
      [0xdc00, 0xe000],
      [0xe000, 0x10000],
    ];
    for (let n = 0; n < 500; n++) {
      const length = Math.floor(random() * 64);
      let text = '';
      for (let i = 0; i < length; i++) {
        const [lo, hi] = ranges[Math.floor(random() * ranges.length)]!;
        text += String.fromCharCode(lo + Math.floor(random() * (hi - lo)));
      }
      expect(escaped(text), JSON.stringify(text)).toEqual(reference(text));
    }
  });
});
