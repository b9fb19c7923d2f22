// The inline head and tail of a stream: cut at line ends, and never through a character.
import { describe, expect, it } from 'vitest';
import { InlineHeadTail } from '../../src/processes/inline-head-tail.js';

/** True when `text` holds half of a surrogate pair (what a cut through an emoji leaves). */
function hasLoneSurrogate(text: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** Appends `text` in chunks of about `chunk` characters, whole characters each (as the UTF-8 decoder gives them). */
function feed(view: InlineHeadTail, text: string, chunk: number): void {
  for (let i = 0; i < text.length;) {
    let end = Math.min(text.length, i + chunk);
    if (/[\ud800-\udbff]/.test(text[end - 1]!)) end++;
    const piece = text.slice(i, end);
    view.append(piece, Buffer.byteLength(piece));
    i = end;
  }
}

describe('InlineHeadTail', () => {
  it.each([
    ['an odd budget', 1001, 4096],
    ['an even budget with odd chunks', 1000, 333],
  ])('never cuts a single long line of emoji through a character (%s)', (_name, half, chunk) => {
    const line = '😀'.repeat(5_000);
    const view = new InlineHeadTail(half, 'stdout', 'id-1');
    feed(view, `${line}\n`, chunk);
    for (const rendered of [view.render(), (view.compact(), view.render())]) {
      expect(rendered.truncated).toBe(true);
      expect(hasLoneSurrogate(rendered.text)).toBe(false);
      const [head, tail] = rendered.text.split(/\n?\.\.\. \[stdout lines .*\] \.\.\.\n/);
      expect(head!.length).toBeGreaterThan(half - 3);
      expect(tail!.length).toBeGreaterThan(half - 3);
      // What is left out is counted exactly: shown plus omitted bytes are the stream's bytes.
      expect(Buffer.byteLength(head!) + Buffer.byteLength(tail!) + rendered.omitted!.bytes).toBe(Buffer.byteLength(line) + 1);
    }
  });

  it('keeps whole lines of multibyte text and counts the left-out lines and bytes', () => {
    const lines = Array.from({ length: 3_000 }, (_, i) => `é😀中 ${i}`);
    const view = new InlineHeadTail(2_000, 'stdout', 'id-2');
    feed(view, lines.map((l) => `${l}\n`).join(''), 777);
    const r = view.render();
    expect(hasLoneSurrogate(r.text)).toBe(false);
    const shown = r.text.split('\n').filter((l) => !l.startsWith('... ['));
    for (const l of shown.filter(Boolean)) expect(lines).toContain(l);
    expect(r.omitted!.lines + shown.filter(Boolean).length).toBe(lines.length);
  });
});
