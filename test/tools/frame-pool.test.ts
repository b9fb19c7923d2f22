// FramePool: a written frame's memory serves the next frame; frames larger than a slab are never pooled.
import { describe, expect, it } from 'vitest';
import { FramePool } from '../../tools/frame-pool.js';

describe('FramePool', () => {
  it('hands the memory of a frame given back to the next frame that fits, and fresh memory while frames are in flight', () => {
    const pool = new FramePool(1024, 4);
    const a = pool.take(700);
    const b = pool.take(900);
    expect([a.length, b.length]).toEqual([700, 900]);
    expect(b.buffer).not.toBe(a.buffer); // both in flight: separate memory
    pool.give(a);
    const c = pool.take(1000);
    expect(c.length).toBe(1000);
    expect(c.buffer).toBe(a.buffer);
  });

  it('never pools a frame larger than a slab, and keeps at most maxFree buffers', () => {
    const pool = new FramePool(1024, 1);
    const big = pool.take(5000);
    pool.give(big);
    expect(pool.take(5000).buffer).not.toBe(big.buffer);
    const [x, y] = [pool.take(10), pool.take(10)];
    pool.give(x);
    pool.give(y); // over maxFree: left to the GC
    expect(pool.take(10).buffer).toBe(x.buffer);
    expect(pool.take(10).buffer).not.toBe(y.buffer);
  });
});
