// Lets a child's output gather in its pipe between reads while it floods: fewer, larger reads and event-loop wake-ups.
import type { Readable } from 'node:stream';

/** A read smaller than this, close after the one before, pauses the pipe for a moment. */
const GATHER_BELOW_BYTES = 32 * 1024;
/** Reads closer together than this mean the child is flooding. */
const FLOOD_GAP_MS = 2;
/** How long the pipe fills before it is read again. */
const GATHER_MS = 1;

/**
 * Why: the server does little per read (a notification is built once 64 KiB are coalesced), so in a flood its
 * event loop was back waiting before the producer had refilled the pipe, and every few KiB the producer wrote
 * woke it again: 2-3x the reads of a relay that encodes and sends each read at once (18-44 KiB each against
 * 55), and 10-50 thousand sleeps and wake-ups of the main thread per GiB against 3-5 thousand, each costing
 * CPU on both sides on a shared machine (docs/performance.md, streaming throughput, session 6). A short read
 * that follows another within FLOOD_GAP_MS pauses the pipe for GATHER_MS, so the next read takes what the
 * producer wrote meanwhile (a pipe holds ~200 KiB). Output that comes now and then is read as it comes.
 */
export class ReadGatherer {
  private lastReadAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  /** How many times the pipe was paused to gather (reported for tests and diagnosis). */
  gathered = 0;

  /**
   * @param pipe the child's output stream
   * @param held true while someone else holds the pipe paused (back-pressure): the gatherer does not resume it then
   */
  constructor(
    private readonly pipe: Readable,
    private readonly held: () => boolean,
  ) {}

  /** A read of `bytes` has been handled. */
  afterRead(bytes: number): void {
    const now = performance.now();
    const flooding = now - this.lastReadAt < FLOOD_GAP_MS;
    this.lastReadAt = now;
    if (!flooding || bytes >= GATHER_BELOW_BYTES || this.timer !== undefined || this.held()) return;
    this.gathered++;
    this.pipe.pause();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.held()) this.pipe.resume();
    }, GATHER_MS);
  }

  /** The pipe is done: no timer is left behind. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
