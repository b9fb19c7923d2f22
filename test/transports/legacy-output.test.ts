// The original protocol's chunking of a held line: cut from the pieces as held, the same chunks as cutting their join.
import { describe, expect, it } from 'vitest';
import { splitChunks } from '../../transports/legacy-output.js';

/** The cut as it was made before, from the joined text: the reference the piecewise cut must match. */
function splitJoined(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + max, text.length);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/** A deterministic generator, so a failure names its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const ALPHABET = ['a', 'b', '\n', '\0', 'é', '€', '😀', '𝄞', '\ud83d', '\ude00'];

describe('splitChunks', () => {
  it('cuts pieces into the same chunks as their join, whole surrogate pairs included, for any piece boundaries', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const rnd = random(seed);
      const max = 2 + Math.floor(rnd() * 9);
      const pieces: string[] = [];
      const count = Math.floor(rnd() * 8);
      for (let p = 0; p < count; p++) {
        let piece = '';
        const len = Math.floor(rnd() * 3 * max);
        while (piece.length < len) piece += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
        pieces.push(piece);
      }
      const joined = pieces.join('');
      const chunks = splitChunks(pieces, max);
      expect(chunks, `seed ${seed}, max ${max}, pieces ${JSON.stringify(pieces)}`).toEqual(splitJoined(joined, max));
      expect(chunks.join('')).toBe(joined);
      expect(chunks.every((c) => c.length <= max)).toBe(true);
    }
  });

  it('keeps a pair whole where a piece ends with its high half exactly at the bound', () => {
    expect(splitChunks(['ab\ud83d', '\ude00cd'], 3)).toEqual(['ab', '😀c', 'd']);
    expect(splitChunks(['abc', '😀'], 3)).toEqual(['abc', '😀']);
  });

  it('gives one empty chunk for no text, like the line it stands for', () => {
    expect(splitChunks([], 4)).toEqual(['']);
    expect(splitChunks(['', ''], 4)).toEqual(['']);
  });
});
