// Reused memory for ready frames: frames are packed into slabs, and a slab serves again once every frame in it is written.
import { SlabStore, type Slab } from '../src/processes/slab-store.js';

/**
 * Why: a frame waits in the socket while a reader is slow, long enough for V8 to promote it to the old
 * generation, and a promoted Buffer's memory is only returned by a full GC (after ~64 MiB of external
 * memory). Reusing the memory of frames already written keeps a streaming session at the size of what is
 * in flight. Frames are packed (a small frame takes its size, not a slab: a stalled client holding a
 * megabyte of small notifications holds about a megabyte), and the pool keeps enough empty slabs for
 * everything the flow meter lets be in flight: a pool smaller than that drops slabs that waited out a
 * paused reader (promoted by then) and allocates new ones on every pause. Frames larger than a slab
 * (heavily escaped output) get a buffer of their own.
 */
export class FramePool {
  private readonly slabs: SlabStore;
  /** The slab each frame handed out is in, keyed by the frame itself (nothing to clean up when one is lost). */
  private readonly owner = new WeakMap<Buffer, Slab>();

  /**
   * @param slabBytes size of each pooled buffer: the largest frame it serves
   * @param maxFree empty buffers kept at most (a flood in flight needs about highWaterBytes / slabBytes)
   */
  constructor(slabBytes: number, maxFree: number) {
    this.slabs = new SlabStore(slabBytes, maxFree);
  }

  /** A buffer of exactly `size` bytes (unset), pooled memory when it fits. */
  take(size: number): Buffer {
    const { view, slab } = this.slabs.take(size);
    if (slab !== null) this.owner.set(view, slab);
    return view;
  }

  /** `frame` (from take()) has been written and nobody holds it any more: its memory serves later frames. */
  give(frame: Buffer): void {
    const slab = this.owner.get(frame);
    if (slab === undefined) return;
    this.owner.delete(frame);
    this.slabs.drop(slab);
  }
}
