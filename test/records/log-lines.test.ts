// Line ranges and search over log files on disk, across the 1 MiB read pieces, with odd line shapes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compilePattern, grepLog, MAX_SHOWN_LINE_CHARS, readLines, scanChunks } from '../../src/records/log-lines.js';

const dir = mkdtempSync(join(tmpdir(), 'cc-executor-log-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 300,000 lines of 12 bytes ("line-000001\n"...): pieces of 1 MiB end inside line 87382. */
const fixed = join(dir, 'fixed.log');
writeFileSync(fixed, Array.from({ length: 300_000 }, (_, i) => `line-${String(i + 1).padStart(6, '0')}\n`).join(''));
const name = (n: number) => `line-${String(n).padStart(6, '0')}`;
const all = { context: 0, maxMatches: 100, maxBytes: 1 << 20, deadline: Number.MAX_SAFE_INTEGER };

describe('log lines', () => {
  it('numbers every line across read pieces and reads any range', async () => {
    expect(await scanChunks(fixed, () => false)).toBe(300_000);
    for (const from of [1, 87_380, 87_382, 299_999]) {
      const r = await readLines(fixed, from, from + 3, 1 << 20);
      expect(r.lines.map((l) => l.line)).toEqual([from, from + 1, from + 2, from + 3].filter((n) => n <= 300_000));
      expect(r.lines.map((l) => l.text)).toEqual(r.lines.map((l) => name(l.line)));
      expect(r.eof).toBe(from + 3 > 300_000);
    }
    const capped = await readLines(fixed, 10, 1_000, 30);
    expect(capped).toMatchObject({ more: true, eof: false });
    expect(capped.lines.map((l) => l.line)).toEqual([10, 11]);
  });

  it('finds matches with context lines that straddle a read piece', async () => {
    for (const n of [87_380, 87_381, 87_382, 87_383, 87_384]) {
      const r = await grepLog(fixed, compilePattern(`^${name(n)}$`, false), { ...all, context: 2 });
      expect(r.matches).toEqual([
        {
          line: n,
          text: name(n),
          before: [n - 2, n - 1].map((l) => ({ line: l, text: name(l) })),
          after: [n + 1, n + 2].map((l) => ({ line: l, text: name(l) })),
        },
      ]);
      expect(r).toMatchObject({ limitReached: false, complete: true, linesScanned: 300_000 });
    }
  });

  it('shows the true context around an empty line that starts a 1 MiB read piece, and matches an empty line only where the log has one', async () => {
    // 65,536 lines of 16 bytes fill the first piece exactly: the second piece starts with the empty line 65,537.
    const wide = (n: number) => `line-${String(n).padStart(10, '0')}`;
    const blockStart = join(dir, 'block-start.log');
    writeFileSync(blockStart, `${Array.from({ length: 65_536 }, (_, i) => `${wide(i + 1)}\n`).join('')}\nMATCH\nafter\n`);
    const m = await grepLog(blockStart, compilePattern('^MATCH$', false), { ...all, context: 3 });
    expect(m.matches).toEqual([
      {
        line: 65_538,
        text: 'MATCH',
        before: [
          { line: 65_535, text: wide(65_535) },
          { line: 65_536, text: wide(65_536) },
          { line: 65_537, text: '' },
        ],
        after: [{ line: 65_539, text: 'after' }],
      },
    ]);
    const empty = await grepLog(blockStart, compilePattern('^$', false), { ...all, context: 1 });
    expect(empty.matches).toEqual([
      { line: 65_537, text: '', before: [{ line: 65_536, text: wide(65_536) }], after: [{ line: 65_538, text: 'MATCH' }] },
    ]);
    expect(empty.linesScanned).toBe(65_539);
  });

  it('confirms each match on its own line: a pattern spanning a newline matches nothing', async () => {
    const r = await grepLog(fixed, compilePattern('line-000001\\sline', false), all);
    expect(r.matches).toEqual([]);
    const anchored = await grepLog(fixed, compilePattern('^line-00000[12]$', false), all);
    expect(anchored.matches.map((m) => m.line)).toEqual([1, 2]);
  });

  it('handles a last line without newline, CRLF, an empty line and an over-long line', async () => {
    const odd = join(dir, 'odd.log');
    writeFileSync(odd, `first\r\n\n${'x'.repeat(3_000_000)}\nafter long\nlast without newline`);
    expect(await scanChunks(odd, () => false)).toBe(5);
    const r = await readLines(odd, 1, 10, 1 << 20);
    expect(r.lines.map((l) => [l.line, l.text.length])).toEqual([
      [1, 5],
      [2, 0],
      [3, 64 * 1024],
      [4, 10],
      [5, 20],
    ]);
    const g = await grepLog(odd, compilePattern('^(first|after long|last without newline)$', false), { ...all, context: 1 });
    expect(g.matches.map((m) => [m.line, m.text])).toEqual([
      [1, 'first'],
      [4, 'after long'],
      [5, 'last without newline'],
    ]);
    expect(g.matches[1]!.before[0]!.text).toHaveLength(MAX_SHOWN_LINE_CHARS + 1);
    expect(g.matches[1]!.after).toEqual([{ line: 5, text: 'last without newline' }]);
  });

  it('reads a stream that printed nothing (no log file) as an empty log', async () => {
    const missing = join(dir, 'never-written.log');
    expect(await scanChunks(missing, () => false)).toBe(0);
    expect(await readLines(missing, 1, 10, 100)).toEqual({ lines: [], more: false, eof: true });
    expect((await grepLog(missing, compilePattern('x', false), all)).matches).toEqual([]);
  });

  it('stops at maxMatches and says more exist', async () => {
    const r = await grepLog(fixed, compilePattern('0$', false), { ...all, maxMatches: 3 });
    expect(r.matches.map((m) => m.line)).toEqual([10, 20, 30]);
    expect(r.limitReached).toBe(true);
  });

  it('stops at its deadline after the piece it is reading and says the answer is partial, with what it found so far', async () => {
    const r = await grepLog(fixed, compilePattern('^line-0000(01|02)$|^line-299999$', false), { ...all, deadline: Date.now() - 1 });
    expect(r.complete).toBe(false);
    expect(r.limitReached).toBe(false);
    expect(r.matches.map((m) => m.line)).toEqual([1, 2]); // the last line lies in a piece never read
    expect(r.linesScanned).toBeGreaterThan(0);
    expect(r.linesScanned).toBeLessThan(300_000);
  });
});
