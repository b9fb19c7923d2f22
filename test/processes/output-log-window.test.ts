// The output window's bytes: what a reader or a follower gets stays intact while the window moves on and reuses its memory.
import { describe, expect, it } from 'vitest';
import { OutputLog, type OutputChunk, type OutputSubscriber } from '../../src/processes/output-log.js';

const KIB = 1024;

/** A distinct 10 KiB line per index, so a chunk overwritten by a later one shows. */
function line(i: number): string {
  return `${String(i).padStart(6, '0')} ${'abcdefghij'[i % 10]!.repeat(10 * KIB - 8)}\n`;
}

class Keeper implements OutputSubscriber {
  readonly chunks: OutputChunk[] = [];
  readonly full = false;
  write(chunk: OutputChunk): void {
    this.chunks.push(chunk);
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
}

describe('OutputLog window', () => {
  it('hands out chunks whose bytes stay the same after the window has evicted them and reused their memory', () => {
    const log = new OutputLog(64 * KIB, 1_000);
    for (let i = 0; i < 20; i++) log.append('stdout', Buffer.from(line(i)));
    const read = log.read(0, 1 << 20);
    const late = new Keeper();
    log.follow(late); // replayed from the window
    const live = new Keeper();
    log.subscribe(live);
    // 200 more chunks: every slab the window used is reused many times over.
    for (let i = 20; i < 220; i++) log.append('stdout', Buffer.from(line(i)));
    expect(read.evicted).toBe(true);
    expect(read.chunks.length).toBeGreaterThan(3);
    for (const c of [...read.chunks, ...late.chunks]) expect(c.data).toBe(line(c.seq - 1));
    expect(live.chunks.map((c) => c.data).join('')).toBe(Array.from({ length: 200 }, (_, i) => line(i + 20)).join(''));
    // And the window itself still serves its newest chunks correctly.
    for (const c of log.read(200, 1 << 20).chunks) expect(c.data).toBe(line(c.seq - 1));
    expect(log.windowBytes).toBeLessThanOrEqual(64 * KIB + 10 * KIB);
  });

  it('keeps a chunk larger than a slab whole', () => {
    const log = new OutputLog(1 << 20, 1_000);
    const big = 'x'.repeat(200 * KIB) + '\n';
    log.append('stderr', big);
    log.append('stdout', 'after\n');
    expect(log.read(0, 1 << 20).chunks.map((c) => [c.stream, c.data])).toEqual([
      ['stderr', big],
      ['stdout', 'after\n'],
    ]);
  });
});
