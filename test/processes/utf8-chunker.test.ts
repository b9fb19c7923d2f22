// Utf8Chunker: pipe reads in, whole UTF-8 characters out as bytes, each piece within its size, invalid input replaced.
import { describe, expect, it } from 'vitest';
import { Utf8Chunker, type Utf8Piece } from '../../src/processes/utf8-chunker.js';

function feed(chunker: Utf8Chunker, reads: Buffer[]): Utf8Piece[] {
  return [...reads.flatMap((r) => chunker.write(r)), ...chunker.end()];
}

/** Cut `data` at the given offsets. */
function cut(data: Buffer, at: number[]): Buffer[] {
  const edges = [0, ...at, data.length];
  return edges.slice(1).map((end, i) => data.subarray(edges[i], end));
}

describe('Utf8Chunker', () => {
  it('passes valid output through as the same bytes, without a copy', () => {
    const read = Buffer.from('plain ASCII line\nüñíçødé 😀\n', 'utf8');
    const [piece, ...rest] = new Utf8Chunker(64 * 1024).write(read);
    expect(rest).toEqual([]);
    expect(piece!.raw.buffer).toBe(read.buffer);
    expect(piece!.raw.equals(read)).toBe(true);
    expect(piece!.bytes).toBe(read.length);
  });

  it('holds a character split across reads until it is whole, at every split point of every width', () => {
    const text = 'a€b😀cüd';
    const data = Buffer.from(text, 'utf8');
    for (let i = 1; i < data.length; i++) {
      for (let j = i + 1; j < data.length; j++) {
        const pieces = feed(new Utf8Chunker(1024), cut(data, [i, j]));
        // Every piece alone is whole characters: decoding each one loses nothing.
        expect(pieces.map((p) => p.raw.toString('utf8')).join('')).toBe(text);
        expect(pieces.reduce((n, p) => n + p.bytes, 0)).toBe(data.length);
      }
    }
  });

  it('cuts pieces at character boundaries to at most maxBytes each', () => {
    const text = '€'.repeat(1_000) + 'x'.repeat(3_001) + '😀'.repeat(700);
    const data = Buffer.from(text, 'utf8');
    const pieces = feed(new Utf8Chunker(1_024), cut(data, [5_000]));
    for (const p of pieces) {
      expect(p.raw.length).toBeLessThanOrEqual(1_024);
      expect(p.raw.toString('utf8')).not.toContain('\uFFFD');
    }
    expect(pieces.map((p) => p.raw.toString('utf8')).join('')).toBe(text);
    expect(pieces.reduce((n, p) => n + p.bytes, 0)).toBe(data.length);
  });

  it('replaces invalid input as Buffer#toString does, counts the pipe bytes, and ends an unfinished character as U+FFFD', () => {
    const data = Buffer.concat([Buffer.from('ok '), Buffer.from([0xff, 0xfe]), Buffer.from(' €'), Buffer.from([0xe2, 0x82])]);
    for (let i = 1; i < data.length; i++) {
      const pieces = feed(new Utf8Chunker(1024), cut(data, [i]));
      const raw = Buffer.concat(pieces.map((p) => p.raw));
      expect(raw.toString('utf8')).toBe(data.toString('utf8'));
      // What a chunk holds is valid UTF-8 that encodes its own text (the log files hold exactly these bytes).
      expect(Buffer.from(raw.toString('utf8'), 'utf8').equals(raw)).toBe(true);
      expect(pieces.reduce((n, p) => n + p.bytes, 0)).toBe(data.length);
    }
  });
});
