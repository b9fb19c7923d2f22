// Reused buffers for one sink's ready frames: a frame's memory goes back to the pool once the transport has written it.

/**
 * Why: a frame waits in the socket while a reader is slow, long enough for V8 to promote it to the old
 * generation, and a promoted Buffer's memory is only returned by a full GC (after ~64 MiB of external
 * memory). Reusing the memory of frames already written keeps a streaming session at the size of what is
 * in flight. Frames larger than a slab (heavily escaped output) get a buffer of their own.
 */
export class FramePool {
  private readonly free: Buffer[] = [];

  /**
   * @param slabBytes size of each pooled buffer: the largest frame it serves
   * @param maxFree empty buffers kept at most (a flood in flight needs about highWaterBytes / slabBytes)
   */
  constructor(
    private readonly slabBytes: number,
    private readonly maxFree: number,
  ) {}

  /** A buffer of exactly `size` bytes (unset), pooled memory when it fits. */
  take(size: number): Buffer {
    if (size > this.slabBytes) return Buffer.allocUnsafeSlow(size);
    const slab = this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
    return slab.subarray(0, size);
  }

  /** `frame` (from take()) has been written and nobody holds it any more: its memory serves the next frame. */
  give(frame: Buffer): void {
    if (frame.buffer.byteLength !== this.slabBytes || frame.byteOffset !== 0 || this.free.length >= this.maxFree) return;
    this.free.push(Buffer.from(frame.buffer, 0, this.slabBytes));
  }
}
