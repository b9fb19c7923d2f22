// Memory for short-lived byte runs packed into a few reused slabs: allocated once, not once per chunk or frame.

/** One slab: byte runs side by side; reused once every run in it has been dropped. */
export interface Slab {
  readonly buf: Buffer;
  used: number;
  /** Runs handed out of this slab and not dropped yet. */
  live: number;
}

/** Bytes per slab by default: the size of a pipe read, so a chunk fits in one (larger runs get a buffer of their own). */
const DEFAULT_SLAB_BYTES = 64 * 1024;
/** Empty slabs kept for reuse by default; more are left to the GC. */
const DEFAULT_MAX_SPARE_SLABS = 8;

/**
 * Why: a Buffer that lives across two scavenges (output a slow reader holds back, a frame waiting in a
 * paused socket) is promoted to V8's old generation, and a promoted Buffer's memory is only returned by a
 * full GC, which V8 starts after about 64 MiB of such external memory: until then RSS grows with every
 * byte streamed. Packing runs into slabs that are reused once every run in them is dropped keeps the
 * memory at the size of what is held. The spare slabs must cover how much the number of slabs in use
 * varies (runs of different sizes pack differently), or every swing allocates slabs anew and drops the
 * old ones, promoted, to the GC.
 * A view handed out lives only as long as its run is not dropped: copy before keeping it longer.
 */
export class SlabStore {
  private current: Slab | null = null;
  private readonly spare: Slab[] = [];

  /**
   * @param slabBytes size of each slab: the largest run it serves
   * @param maxSpare empty slabs kept at most
   */
  constructor(
    readonly slabBytes = DEFAULT_SLAB_BYTES,
    private readonly maxSpare = DEFAULT_MAX_SPARE_SLABS,
  ) {}

  /** `size` bytes (unset) and the slab they are in (null: a buffer of their own); hand the slab to drop() when done. */
  take(size: number): { view: Buffer; slab: Slab | null } {
    if (size > this.slabBytes) return { view: Buffer.allocUnsafeSlow(size), slab: null };
    let slab = this.current;
    if (slab === null || slab.used + size > slab.buf.length) {
      const full = slab;
      slab = this.current = this.spare.pop() ?? { buf: Buffer.allocUnsafeSlow(this.slabBytes), used: 0, live: 0 };
      slab.used = 0;
      if (full !== null && full.live === 0) this.recycle(full);
    }
    const view = slab.buf.subarray(slab.used, slab.used + size);
    slab.used += size;
    slab.live++;
    return { view, slab };
  }

  /** A copy of `raw` and the slab it is in (null: a buffer of its own); hand the slab to drop() when the copy leaves. */
  keep(raw: Buffer): { view: Buffer; slab: Slab | null } {
    const kept = this.take(raw.length);
    raw.copy(kept.view);
    return kept;
  }

  /** A run from take() or keep() is no longer used: its slab is reused once none is left in it. */
  drop(slab: Slab | null): void {
    if (slab === null) return;
    slab.live--;
    if (slab.live > 0) return;
    // Nothing in the current slab is in use: it serves again from its start (small runs reuse one slab).
    if (slab === this.current) slab.used = 0;
    else this.recycle(slab);
  }

  /** Forget every slab (the window was released). */
  clear(): void {
    this.current = null;
    this.spare.length = 0;
  }

  private recycle(slab: Slab): void {
    if (this.spare.length < this.maxSpare) this.spare.push(slab);
  }
}
