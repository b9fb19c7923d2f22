// RecordIndex: start order without sorting, running totals, and removal that stops once within limits.
import { randomUUID } from 'node:crypto';
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

  it('finds entries by id prefix through inserts, deletes, bulk merges and pruning, as a full scan would', () => {
    const index = new RecordIndex<ReturnType<typeof entry>>();
    const scan = (prefix: string) =>
      [...index.values()]
        .filter((e) => e.id.startsWith(prefix))
        .map((e) => e.id)
        .sort();
    const found = (prefix: string) =>
      index
        .withPrefix(prefix, 1_000_000)
        .map((e) => e.id)
        .sort();
    const check = () => {
      const ids = [...index.values()].map((e) => e.id);
      for (const id of ids.slice(0, 40)) {
        for (const n of [1, 2, 4, 8, 36]) expect(found(id.slice(0, n))).toEqual(scan(id.slice(0, n)));
      }
      for (const p of ['0', 'f', 'zz', 'ffffffff']) expect(found(p)).toEqual(scan(p));
    };
    let t = 0;
    const base = () => String(t++).padStart(8, '0');
    for (let i = 0; i < 300; i++) index.set(entry(randomUUID(), base()));
    check();
    index.addSorted(Array.from({ length: 200 }, (_, i) => entry(randomUUID(), `-${String(i).padStart(4, '0')}`)));
    check();
    for (let i = 0; i < 100; i++) index.set(entry(randomUUID(), base()));
    for (const e of [...index.values()].filter((_, i) => i % 7 === 0)) index.delete(e.id);
    check();
    let pruned = 0;
    index.removeWhere(() => (pruned++ < 3 ? true : 'stop'));
    check();
    index.removeWhere((_, totals) => (totals.count <= 100 ? 'stop' : true));
    expect(index.count).toBe(100);
    check();
    for (let i = 0; i < 50; i++) index.set(entry(randomUUID(), base()));
    check();
    expect(index.withPrefix('', 7)).toHaveLength(7);
  });

  it('keeps its groups exact through inserts, replacements, deletes, merges and removal in slices, and lists a group newest first', () => {
    type G = ReturnType<typeof entry> & { group: string };
    const index = new RecordIndex<G>((e) => e.group);
    const g = (id: string, base: string, group: string): G => ({ ...entry(id, base), group });
    const scan = (group: string) => [...index.newestFirst()].filter((e) => e.group === group).map((e) => e.id);
    const check = () => {
      for (const group of ['a', 'b', 'c', 'none']) {
        expect(index.inGroup(group).map((e) => e.id)).toEqual(scan(group));
        expect(index.groupSize(group)).toBe(scan(group).length);
      }
    };
    for (let i = 0; i < 60; i++) index.set(g(`n${i}`, `1${String(i).padStart(3, '0')}`, i % 10 === 0 ? 'b' : 'a'));
    check();
    index.set(g('n3', '1003', 'c')); // a state change replaces the entry
    check();
    index.addSorted(Array.from({ length: 30 }, (_, i) => g(`o${i}`, `0${String(i).padStart(3, '0')}`, i % 3 === 0 ? 'c' : 'a')));
    check();
    index.addSorted([g('mid', '1030x', 'b')]); // after this run's first entry: a merge
    check();
    index.delete('n10');
    check();
    // At most 7 per call, oldest first, skipping what must stay; what follows keeps its order.
    const removed = index.removeWhere((e) => e.group !== 'c', 7);
    expect(removed.map((e) => e.id)).toEqual(['o1', 'o2', 'o4', 'o5', 'o7', 'o8', 'o10']);
    expect(
      index
        .inOrder()
        .slice(0, 5)
        .map((e) => e.id),
    ).toEqual(['o0', 'o3', 'o6', 'o9', 'o11']);
    check();
    while (index.removeWhere((e, totals) => (totals.count <= 20 ? 'stop' : e.group !== 'c'), 7).length > 0) check();
    expect(index.count).toBe(20);
    check();
  });
});
