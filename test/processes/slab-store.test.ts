// SlabStore: byte runs packed into reused slabs; a window of runs of any sizes keeps reusing the same few slabs.
import { describe, expect, it } from 'vitest';
import { SlabStore, type Slab } from '../../src/processes/slab-store.js';

const KIB = 1024;

describe('SlabStore', () => {
  it('keeps a window of runs of mixed sizes in the same few slabs however long it moves on, every run intact', () => {
    const store = new SlabStore(64 * KIB);
    const window: Array<{ view: Buffer; slab: Slab | null; fill: number }> = [];
    const slabsSeen = new Set<ArrayBufferLike>();
    let held = 0;
    let seed = 7;
    const nextSize = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return 1 + (seed % (64 * KIB)); // 1 byte to 64 KiB, as pipe reads come
    };
    for (let i = 0; i < 5_000; i++) {
      const size = nextSize();
      const kept = store.keep(Buffer.alloc(size, i % 251));
      slabsSeen.add(kept.view.buffer);
      window.push({ ...kept, fill: i % 251 });
      held += size;
      // A 1 MiB window, as OutputLog keeps: the oldest runs leave once it is over.
      while (held > 1024 * KIB && window.length > 1) {
        const old = window.shift()!;
        // Written over by a later run, its first, middle or last byte would show another run's fill.
        const v = old.view;
        expect([v[0], v[v.length >> 1], v[v.length - 1]]).toEqual([old.fill, old.fill, old.fill]);
        held -= old.view.length;
        store.drop(old.slab);
      }
    }
    // About 160 MiB went through a 1 MiB window: the slabs in use (17 to 32 of them, as runs pack) and a few spare.
    expect(slabsSeen.size).toBeLessThanOrEqual(40);
  });

  it('gives a run larger than a slab a buffer of its own, and serves small runs from one slab once they are dropped', () => {
    const store = new SlabStore(1 * KIB, 1);
    const big = store.keep(Buffer.alloc(5 * KIB, 1));
    expect(big.slab).toBeNull();
    expect(big.view.length).toBe(5 * KIB);
    const first = store.take(100);
    store.drop(first.slab);
    for (let i = 0; i < 100; i++) {
      const run = store.take(100);
      expect(run.view.buffer).toBe(first.view.buffer);
      store.drop(run.slab);
    }
  });
});
