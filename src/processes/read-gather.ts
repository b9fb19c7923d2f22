// Larger reads of a flooding command's output: a short sleep after a small read, so the pipe fills meanwhile.

/** A read at least this large is left alone: the pipe was already filling while we worked. */
const SMALL_READ_BYTES = 16 * 1024;
/** Reads of one pipe closer together than this are a flood; the first read after a quiet spell never waits. */
const FLOOD_GAP_MS = 2;

/**
 * When a command writes fast in small pieces (`head` writes 8 KiB at a time), a reader that is quickly back in
 * `epoll_wait` is woken for each write: the pipe is read in pieces of one write each, and every wake-up costs
 * CPU on both sides (on a VM, waking a thread that sleeps on the other CPU is an interrupt between CPUs; the
 * writer pays for it). A bare relay does more per read and comes back to a fuller pipe. Node offers no
 * low-water mark for a pipe and no timer under a millisecond (a 1 ms pause caps a producer at about what the
 * socket buffer holds per millisecond), so after a small read of a flood the event loop sleeps `pauseUs`
 * (Atomics.wait: woken by the CPU's own timer, not by the writer), and the next read takes what was written
 * meanwhile. Bounded: at most one sleep per turn of the event loop, none while several pipes flood at once (the
 * loop has work enough then), and never for a pipe's first read after a quiet spell (a lone line goes out at
 * once). docs/performance.md has the figures ("Streaming throughput, session 9"), and why it is off by default
 * (config readGatherUs: 0): on a machine whose CPUs are all busy, a sleeping thread can wait a scheduling slice
 * to run again, and the RSS kept after finished runs grew.
 */
export class ReadGather {
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));
  private readonly pauseMs: number;
  private sleptThisTurn = false;
  /** The pipe read last, and when: another pipe's read close behind it means several floods at once. */
  private lastReader: object | undefined;
  private lastReadAt = -Infinity;
  /** Until then no sleep: several pipes flood at once and the loop has work enough (the sleep only delays it). */
  private crowdedUntil = -Infinity;
  /** Sleeps taken so far. */
  sleeps = 0;

  constructor(
    pauseUs: number,
    /** Reads of one pipe closer together than this are a flood (tests widen it: a loaded machine stalls them). */
    private readonly floodGapMs = FLOOD_GAP_MS,
  ) {
    this.pauseMs = pauseUs / 1000;
  }

  /** The read hook of one pipe (call it after each read with the read's size), or undefined when gathering is off. */
  reader(): ((bytes: number) => void) | undefined {
    if (this.pauseMs <= 0) return undefined;
    const me = {};
    let lastReadAt = -Infinity;
    return (bytes) => {
      const now = performance.now();
      const flooding = now - lastReadAt < this.floodGapMs;
      lastReadAt = now;
      if (this.lastReader !== me && now - this.lastReadAt < this.floodGapMs) this.crowdedUntil = now + this.floodGapMs;
      this.lastReader = me;
      this.lastReadAt = now;
      if (bytes >= SMALL_READ_BYTES || !flooding || this.sleptThisTurn || now < this.crowdedUntil) return;
      this.sleptThisTurn = true;
      setImmediate(this.endTurn);
      this.sleeps++;
      Atomics.wait(this.cell, 0, 0, this.pauseMs);
    };
  }

  private readonly endTurn = (): void => {
    this.sleptThisTurn = false;
  };
}
