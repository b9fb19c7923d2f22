// OutputLog directly: seq numbers, byte counts, the bounded window, reads and scrollback, subscribers, back-pressure, release.
import { describe, expect, it } from 'vitest';
import { OutputLog, type OutputChunk, type OutputSubscriber } from '../../src/processes/output-log.js';

/** The fields a reader sees of each chunk (the chunk's own shape is the window's business). */
const seen = (chunks: OutputChunk[]) => chunks.map((c) => ({ seq: c.seq, stream: c.stream, data: c.data, bytes: c.bytes }));
const seqs = (chunks: OutputChunk[]) => chunks.map((c) => c.seq);

/** A subscriber that records what it is handed and can be made full by the test. */
function subscriber(): OutputSubscriber & { got: string[]; setFull(full: boolean): void } {
  let full = false;
  let wake: (() => void) | undefined;
  let woken = Promise.resolve();
  return {
    got: [],
    write(chunk) {
      this.got.push(`${chunk.seq}:${chunk.data}`);
    },
    get full() {
      return full;
    },
    drained: () => woken,
    setFull(next) {
      full = next;
      if (next) woken = new Promise((r) => (wake = r));
      else wake?.();
    },
  };
}

/** A log of five 4-byte stdout chunks `c1..c5` ("c1\n\n" etc.) with a window of `windowBytes`. */
function fiveChunks(windowBytes = 1 << 20): OutputLog {
  const log = new OutputLog(windowBytes, 1_000);
  for (let i = 1; i <= 5; i++) log.append('stdout', `c${i}\n\n`, 4);
  return log;
}

describe('OutputLog', () => {
  it('numbers chunks from 1 across both streams, counts bytes per stream and reads them back in order', () => {
    const log = new OutputLog(1 << 20, 1_000);
    expect(log.seq).toBe(0);
    expect(log.read(0, 1 << 20)).toMatchObject({ chunks: [], nextSeq: 0, firstSeq: 1, evicted: false, more: false });
    expect(log.append('stdout', 'out\n', 4).seq).toBe(1);
    expect(log.append('stderr', 'err\n', 4).seq).toBe(2);
    // `bytes` is the pipe bytes a chunk stands for, which may differ from its text (a replaced invalid byte).
    expect(log.append('stdout', '\uFFFD\n', 2).seq).toBe(3);
    expect(log.seq).toBe(3);
    expect(log.bytes).toEqual({ stdout: 6, stderr: 4 });
    expect(log.windowBytes).toBe(10);
    const all = log.read(0, 1 << 20);
    expect(seen(all.chunks)).toEqual([
      { seq: 1, stream: 'stdout', data: 'out\n', bytes: 4 },
      { seq: 2, stream: 'stderr', data: 'err\n', bytes: 4 },
      { seq: 3, stream: 'stdout', data: '\uFFFD\n', bytes: 2 },
    ]);
    expect(all).toMatchObject({ nextSeq: 3, firstSeq: 1, evicted: false, more: false });
    // Reading from the end gives nothing new, and says where to go on from.
    expect(log.read(3, 100)).toMatchObject({ chunks: [], nextSeq: 3, more: false });
  });

  it('reads at most maxBytes at a time (at least one chunk) and continues from nextSeq without gaps', () => {
    const log = fiveChunks();
    const first = log.read(0, 9);
    expect(seqs(first.chunks)).toEqual([1, 2]);
    expect(first).toMatchObject({ nextSeq: 2, more: true });
    const second = log.read(first.nextSeq, 9);
    expect(seqs(second.chunks)).toEqual([3, 4]);
    const third = log.read(second.nextSeq, 9);
    expect(seqs(third.chunks)).toEqual([5]);
    expect(third.more).toBe(false);
    // A budget smaller than one chunk still returns that chunk: a reader always makes progress.
    expect(seqs(log.read(0, 1).chunks)).toEqual([1]);
  });

  it('keeps a bounded window of the newest chunks and says when a read asks for evicted ones', () => {
    const log = fiveChunks(10);
    expect(log.windowBytes).toBeLessThanOrEqual(10);
    const read = log.read(0, 1 << 20);
    expect(read.evicted).toBe(true);
    expect(read.firstSeq).toBe(4);
    expect(seqs(read.chunks)).toEqual([4, 5]);
    expect(log.read(3, 1 << 20).evicted).toBe(false);
    // Counts are of everything appended, not of what the window holds.
    expect(log.bytes.stdout).toBe(20);
    // A chunk larger than the whole window is still held (alone): the newest output is never lost.
    log.append('stderr', 'x'.repeat(50), 50);
    expect(seqs(log.read(0, 1 << 20).chunks)).toEqual([6]);
    expect(log.windowBytes).toBe(50);
  });

  it('finds where a backwards read starts: chunks just before beforeSeq, within maxBytes, at least one', () => {
    const log = fiveChunks();
    expect(log.tailStart(6, 8)).toEqual({ sinceSeq: 3, bytes: 8, reachedWindowStart: false });
    expect(seqs(log.read(3, 8).chunks)).toEqual([4, 5]);
    expect(log.tailStart(4, 8)).toEqual({ sinceSeq: 1, bytes: 8, reachedWindowStart: false });
    expect(log.tailStart(3, 100)).toEqual({ sinceSeq: 0, bytes: 8, reachedWindowStart: true });
    expect(log.tailStart(6, 1)).toEqual({ sinceSeq: 4, bytes: 4, reachedWindowStart: false });
    // With part of the log evicted, the walk stops at the window's start and says so (older chunks are on disk).
    const small = fiveChunks(10);
    expect(small.tailStart(6, 100)).toEqual({ sinceSeq: 3, bytes: 8, reachedWindowStart: true });
  });

  it('hands a late follower every chunk the window holds and then each new one; a subscriber only new ones', () => {
    const log = fiveChunks(10);
    const follower = subscriber();
    const plain = subscriber();
    log.follow(follower);
    log.subscribe(plain);
    expect(follower.got).toEqual(['4:c4\n\n', '5:c5\n\n']);
    expect(plain.got).toEqual([]);
    log.append('stderr', 'new', 3);
    expect(follower.got.at(-1)).toBe('6:new');
    expect(plain.got).toEqual(['6:new']);
  });

  it('stops handing chunks to a subscriber that left, and tells its owner', () => {
    const log = new OutputLog(1 << 20, 1_000);
    const sub = subscriber();
    let told = 0;
    log.onUnsubscribe = () => void told++;
    const leave = log.subscribe(sub);
    log.append('stdout', 'a', 1);
    leave();
    log.append('stdout', 'b', 1);
    expect(sub.got).toEqual(['1:a']);
    expect(told).toBe(1);
  });

  it('is congested while any subscriber is full, and drained() resolves only once none is', async () => {
    const log = new OutputLog(1 << 20, 1_000);
    const slow = subscriber();
    const fast = subscriber();
    log.subscribe(slow);
    log.subscribe(fast);
    expect(log.congested).toBe(false);
    await log.drained(); // nothing full: resolves at once
    slow.setFull(true);
    expect(log.congested).toBe(true);
    let done = false;
    const waiting = log.drained().then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    slow.setFull(false);
    await waiting;
    expect(done).toBe(true);
    expect(log.congested).toBe(false);
  });

  it('keeps a short output whole inline, and the last line printed on the stream written last', () => {
    const log = new OutputLog(1 << 20, 1_000);
    log.append('stdout', 'one\ntwo\n', 8);
    log.append('stderr', 'warn: x\n\n', 9);
    expect(log.inlineOutput('stdout')).toMatchObject({ text: 'one\ntwo\n', truncated: false, omittedChars: 0, omitted: null });
    expect(log.inlineOutput('stderr').text).toBe('warn: x\n\n');
    expect(log.lastLine()).toBe('warn: x');
    log.append('stdout', 'Password: ', 10);
    expect(log.lastLine()).toBe('Password: ');
  });

  it('keeps the head and the tail of a long output inline, and says what it left out', () => {
    const log = new OutputLog(1 << 20, 200);
    const lines = Array.from({ length: 1_000 }, (_, i) => `line ${i + 1}\n`);
    for (const line of lines) log.append('stdout', line, line.length);
    const inline = log.inlineOutput('stdout');
    expect(inline.truncated).toBe(true);
    expect(inline.text.startsWith('line 1\nline 2\n')).toBe(true);
    expect(inline.text.endsWith('line 999\nline 1000\n')).toBe(true);
    expect(inline.text.length).toBeLessThan(400);
    expect(inline.omittedChars).toBeGreaterThan(0);
    expect(inline.omitted!.lines).toBeGreaterThan(900);
  });

  it('renders a terminal: inline stdout shows what a screen would, while the chunks stay raw', () => {
    const log = new OutputLog(1 << 20, 1_000, { terminal: { rows: 24 } });
    expect(log.rendersTerminal).toBe(true);
    log.append('stdout', 'progress 10%\rprogress 100%\r\n\x1b[1mdone\x1b[0m\r\n', 40);
    expect(log.inlineOutput('stdout').text).not.toContain('10%');
    expect(log.inlineOutput('stdout').text).toContain('progress 100%');
    expect(log.inlineOutput('stdout').text).not.toContain('\x1b');
    expect(log.read(0, 1 << 20).chunks[0]!.data).toBe('progress 10%\rprogress 100%\r\n\x1b[1mdone\x1b[0m\r\n');
    expect(new OutputLog(1 << 20, 1_000).rendersTerminal).toBe(false);
  });

  it('after release() holds no window (reads report it evicted) but keeps the inline output and the counts', () => {
    const log = fiveChunks();
    const before = log.inlineOutput('stdout');
    log.release();
    expect(log.released).toBe(true);
    expect(log.windowBytes).toBe(0);
    expect(log.read(0, 1 << 20)).toMatchObject({ chunks: [], evicted: true, firstSeq: 6, more: false });
    expect(log.tailStart(6, 100)).toEqual({ sinceSeq: 5, bytes: 0, reachedWindowStart: true });
    expect(log.inlineOutput('stdout')).toEqual(before);
    expect(log.bytes.stdout).toBe(20);
    expect(log.seq).toBe(5);
  });
});
