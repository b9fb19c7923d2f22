// RecordIndex: start order without sorting, running totals, and removal that stops once within limits.
import { describe, expect, it } from 'vitest';
import { RecordIndex } from '../../src/records/record-index.js';

const entry = (id: string, base: string, logBytes = 10) => ({ id, base, logBytes });

describe('RecordIndex', () => {
  it('keeps entries in base order whatever the insert order, with totals', () => {
    const index = new RecordIndex<ReturnType<typeof entry>>();
    for (const [id, base] of [
      ['c', '3'],
      ['a', '1'],
      ['d', '4'],
      ['b', '2'],
    ] as const)
      index.set(entry(id, base));
    expect([...index.newestFirst()].map((e) => e.id)).toEqual(['d', 'c', 'b', 'a']);
    expect(index.count).toBe(4);
    expect(index.logBytes).toBe(40);
    index.set(entry('b', '2', 100));
    expect(index.logBytes).toBe(130);
    expect([...index.newestFirst()].map((e) => e.id)).toEqual(['d', 'c', 'b', 'a']);
    expect([...index.values()].map((e) => e.id).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('removes oldest first, skips what it must keep, and stops once the totals allow', () => {
    const index = new RecordIndex<ReturnType<typeof entry>>();
    for (let i = 0; i < 10; i++) index.set(entry(`e${i}`, String(i).padStart(2, '0')));
    const removed = index.removeWhere((e, totals) => (totals.count <= 6 ? 'stop' : e.id !== 'e1'));
    expect(removed.map((e) => e.id)).toEqual(['e0', 'e2', 'e3', 'e4']);
    expect(index.count).toBe(6);
    expect(index.logBytes).toBe(60);
    expect([...index.newestFirst()].map((e) => e.id)).toEqual(['e9', 'e8', 'e7', 'e6', 'e5', 'e1']);
    expect(index.get('e0')).toBeUndefined();
  });

  it("merges history loaded later behind this run's entries in one pass, keeping the newer entry of an id, and deletes by id", () => {
    const index = new RecordIndex<ReturnType<typeof entry>>();
    index.set(entry('new1', '50'));
    index.set(entry('dup', '30', 99));
    index.addSorted([entry('old0', '10'), entry('old1', '20'), entry('dup', '30', 1), entry('old2', '40'), entry('late', '60')]);
    expect([...index.newestFirst()].map((e) => e.id)).toEqual(['late', 'new1', 'old2', 'dup', 'old1', 'old0']);
    expect(index.count).toBe(6);
    expect(index.get('dup')?.logBytes).toBe(99);
    expect(index.logBytes).toBe(10 + 99 + 10 + 10 + 10 + 10);
    expect(index.delete('old1')?.id).toBe('old1');
    expect(index.delete('old1')).toBeUndefined();
    expect(index.inOrder().map((e) => e.id)).toEqual(['old0', 'dup', 'old2', 'new1', 'late']);
    expect(index.count).toBe(5);
    expect(index.logBytes).toBe(139);
  });
});
