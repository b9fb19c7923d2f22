// FramePool: frames are packed into slabs, a slab serves again once all its frames are written, frames larger than a slab are never pooled.
import { describe, expect, it } from 'vitest';
import { FramePool } from '../../tools/frame-pool.js';

describe('FramePool', () => {
  it('packs frames into one slab while they fit, and serves the slab again once every frame in it is given back', () => {
    const pool = new FramePool(1024, 4);
    const a = pool.take(300);
    const b = pool.take(300);
    expect([a.length, b.length]).toEqual([300, 300]);
    expect(b.buffer).toBe(a.buffer); // packed side by side
    expect(b.byteOffset).toBe(a.byteOffset + 300);
    const c = pool.take(900); // does not fit beside them: a slab of its own
    expect(c.buffer).not.toBe(a.buffer);
    pool.give(a);
    expect(pool.take(900).buffer).not.toBe(a.buffer); // b is still in flight in a's slab
    pool.give(b);
    pool.give(c);
    const d = pool.take(1000);
    expect([a.buffer, c.buffer]).toContain(d.buffer);
  });

  it('never hands out the memory of a frame still in flight', () => {
    const pool = new FramePool(1024, 2);
    const held: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const frame = pool.take(50 + (i % 7) * 40);
      frame.fill(i % 256);
      held.push(frame);
      // Give back every other frame at once: the others stay in flight while their slabs' neighbours are reused.
      if (i % 2 === 0) pool.give(held[i]!);
    }
    held.forEach((frame, i) => {
      if (i % 2 === 1) expect(frame.every((byte) => byte === i % 256)).toBe(true);
    });
  });

  it('never pools a frame larger than a slab, and keeps at most maxFree empty slabs', () => {
    const pool = new FramePool(1024, 1);
    const big = pool.take(5000);
    pool.give(big);
    expect(pool.take(5000).buffer).not.toBe(big.buffer);
    const [x, y, z] = [pool.take(1000), pool.take(1000), pool.take(1000)];
    pool.give(x);
    pool.give(y); // over maxFree: left to the GC
    const [p, q] = [pool.take(1000), pool.take(1000)];
    expect(p.buffer).toBe(x.buffer);
    expect([x.buffer, y.buffer, z.buffer]).not.toContain(q.buffer);
  });

  it('ignores a frame it did not hand out, and one given back twice', () => {
    const pool = new FramePool(1024, 4);
    const a = pool.take(600);
    pool.give(Buffer.alloc(600));
    pool.give(a);
    pool.give(a);
    // Counted twice, the slab would look free while c is still in flight, and d would be written over it.
    const b = pool.take(300);
    const c = pool.take(300).fill(7);
    pool.give(b);
    pool.take(300).fill(9);
    expect(c.every((byte) => byte === 7)).toBe(true);
  });
});
