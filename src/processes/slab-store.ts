// Copies of output bytes in a few reused slabs: the window's memory is allocated once, not once per chunk.

/** One slab: chunks' bytes side by side; reused once every chunk in it has left the window. */
export interface Slab {
  readonly buf: Buffer;
  used: number;
  /** Chunks in the window whose bytes are in this slab. */
  live: number;
}

/** Bytes per slab: the size of a pipe read, so a chunk fits in one (larger chunks get a buffer of their own). */
const SLAB_BYTES = 64 * 1024;
/** Empty slabs kept for reuse; more are left to the GC. */
const MAX_SPARE_SLABS = 2;

/**
 * Why: a window of Buffers that each live until 1 MiB of newer output arrives gets them promoted to V8's
 * old generation whenever output is slow (a slow reader holds it back), and a promoted Buffer's memory is
 * only returned by a full GC, which V8 starts after about 64 MiB of such external memory. Copying each
 * kept chunk into a slab that is reused once the window has moved past it keeps the window at its size.
 * A view handed out lives only as long as its chunk is in the window: copy before keeping it longer.
 */
export class SlabStore {
  private current: Slab | null = null;
  private readonly spare: Slab[] = [];

  /** A copy of `raw` and the slab it is in (null: a buffer of its own); hand the slab to drop() when the copy leaves. */
  keep(raw: Buffer): { view: Buffer; slab: Slab | null } {
    if (raw.length > SLAB_BYTES) return { view: Buffer.from(raw), slab: null };
    let slab = this.current;
    if (slab === null || slab.used + raw.length > slab.buf.length) {
      const full = slab;
      slab = this.current = this.spare.pop() ?? { buf: Buffer.allocUnsafeSlow(SLAB_BYTES), used: 0, live: 0 };
      slab.used = 0;
      if (full !== null && full.live === 0) this.recycle(full);
    }
    raw.copy(slab.buf, slab.used);
    const view = slab.buf.subarray(slab.used, slab.used + raw.length);
    slab.used += raw.length;
    slab.live++;
    return { view, slab };
  }

  /** A kept copy has left the window: its slab is reused once none is left in it. */
  drop(slab: Slab | null): void {
    if (slab === null) return;
    slab.live--;
    if (slab.live === 0 && slab !== this.current) this.recycle(slab);
  }

  /** Forget every slab (the window was released). */
  clear(): void {
    this.current = null;
    this.spare.length = 0;
  }

  private recycle(slab: Slab): void {
    if (this.spare.length < MAX_SPARE_SLABS) this.spare.push(slab);
  }
}
