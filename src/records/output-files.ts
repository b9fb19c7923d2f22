// Full output on disk as it arrives: one UTF-8 file per stream plus a fixed-width index (seq -> stream, offset, length).
import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { OutputChunk, type OutputRead, type OutputSubscriber, type StreamName } from '../processes/output-log.js';

/** One index entry: offset (float64), length (uint32), stream (uint8), 3 bytes padding. Entry for seq s sits at (s-1)*16. */
const ENTRY_BYTES = 16;
const STREAM_CODE: Record<StreamName, number> = { stdout: 1, stderr: 2 };
const CODE_STREAM: Record<number, StreamName> = { 1: 'stdout', 2: 'stderr' };
/** Unwritten bytes per file above which the writer reports itself full (the execution stops reading pipes). */
const WRITE_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Most index entries one read looks at. */
const MAX_ENTRIES_PER_READ = 65_536;
/**
 * Index entries wait this long at most to go out together. Why: every write is a round trip through libuv's
 * thread pool (a futex wake, a context switch, a completion on the event loop), and a 16-byte index write per
 * chunk doubled those of a flood. The log bytes are written at once (holding the pipe's read buffers back
 * would let them be promoted). A reader may find the index a batch behind the log: output-reader waits for
 * written() rather than take that for a gap.
 */
const BATCH_MS = 10;
/** Index entries one batch buffer holds. */
const BATCH_ENTRIES = 256;
export interface OutputPaths {
  stdout: string;
  stderr: string;
  index: string;
}

export function outputPaths(base: string): OutputPaths {
  return { stdout: `${base}.stdout.log`, stderr: `${base}.stderr.log`, index: `${base}.index` };
}

/** Every file an execution's output occupies. */
export function outputFileList(base: string): string[] {
  const p = outputPaths(base);
  return [p.stdout, p.stderr, p.index];
}

/**
 * Appends every chunk to disk. A write error stops the writing (reported once), never the execution.
 * A file is created with its first chunk: a run that prints nothing costs no file descriptor, no open and
 * no close (a thousand silent background runs ending at shutdown would otherwise close three thousand
 * files), and readers take a missing log as an empty one.
 */
export class OutputFiles implements OutputSubscriber {
  readonly paths: OutputPaths;
  private readonly files: Partial<Record<StreamName | 'index', WriteStream>> = {};
  private readonly offsets: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  private error: string | null = null;
  private waiters: Array<() => void> = [];
  /** Index entries not yet handed to the index file (a slice of this buffer is written per batch). */
  private entries: Buffer | null = null;
  private entryCount = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  /** Set by close: a later chunk is a save error, never a reopened (truncated) log. */
  private closed = false;

  constructor(
    base: string,
    private readonly onError: (message: string) => void,
  ) {
    this.paths = outputPaths(base);
  }

  private file(name: StreamName | 'index'): WriteStream {
    let f = this.files[name];
    if (!f) {
      const path = this.paths[name];
      f = createWriteStream(path, { flags: 'w' });
      f.on('error', (e) => this.fail(`${path}: ${e.message}`));
      f.on('drain', () => this.wake());
      this.files[name] = f;
    }
    return f;
  }

  get failed(): string | null {
    return this.error;
  }

  /** Bytes written (or queued) per stream: the size of each log file. */
  get bytes(): Readonly<Record<StreamName, number>> {
    return this.offsets;
  }

  write(chunk: OutputChunk): void {
    if (this.error) return;
    // Never reopen (and so truncate) a log after close: output after it is a save error, as a write after end was.
    if (this.closed) return this.fail(`output after the logs were closed (seq ${chunk.seq})`);
    // The chunk is already UTF-8 bytes: written as it is, no text made.
    const data = chunk.raw;
    this.file(chunk.stream).write(data);
    this.entries ??= Buffer.allocUnsafe(BATCH_ENTRIES * ENTRY_BYTES);
    const at = this.entryCount++ * ENTRY_BYTES;
    this.entries.writeDoubleLE(this.offsets[chunk.stream], at);
    this.entries.writeUInt32LE(data.length, at + 8);
    this.entries.writeUInt32LE(STREAM_CODE[chunk.stream], at + 12); // the stream's code, then 3 zero bytes
    this.offsets[chunk.stream] += data.length;
    if (this.entryCount >= BATCH_ENTRIES) this.flush();
    else this.batchTimer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  /** Hand the batched index entries to the index file (their log bytes went before them: a reader trusts the index). */
  private flush(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.entries === null || this.entryCount === 0 || this.error) return;
    const batch = this.entries.subarray(0, this.entryCount * ENTRY_BYTES);
    this.entries = null;
    this.entryCount = 0;
    this.file('index').write(batch);
  }

  get full(): boolean {
    if (this.error) return false;
    return Object.values(this.files).some((f) => f !== undefined && f.writableLength > WRITE_HIGH_WATER_BYTES);
  }

  drained(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    if (this.full) return;
    for (const w of this.waiters.splice(0)) w();
  }

  private fail(message: string): void {
    if (this.error) return;
    this.error = message;
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.onError(message);
    for (const f of Object.values(this.files)) f?.destroy();
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Resolves once every chunk written so far is in the files (the batch goes out now). A reader that finds
   * on disk less than memory has let go of waits for this, instead of taking the lag for a gap.
   */
  async written(): Promise<void> {
    this.flush();
    await Promise.all(
      Object.values(this.files).map(
        (f) =>
          new Promise<void>((resolve) => {
            if (!f || f.destroyed || f.closed || f.writableLength === 0) return resolve();
            // Writes complete in order: an empty one's callback comes after every write before it.
            f.write(Buffer.alloc(0), () => resolve());
          }),
      ),
    );
  }

  /** Flush and close every file. */
  async close(): Promise<void> {
    // The last index batch goes out first (it opens the index file when it is the first).
    this.flush();
    this.closed = true;
    const open = Object.values(this.files);
    // Nothing is written after close: drop the streams so whoever still holds this object does not hold them.
    for (const k of Object.keys(this.files)) delete this.files[k as StreamName | 'index'];
    await Promise.all(
      open.map(
        (f) =>
          new Promise<void>((resolve) => {
            if (!f || f.destroyed || f.closed) return resolve();
            f.end(() => resolve());
            f.once('error', () => resolve());
          }),
      ),
    );
  }
}

/** Serve chunks after `sinceSeq` from the files, at most `maxBytes` (at least one chunk), stopping before `untilSeq`. */
export async function readOutputFiles(paths: OutputPaths, sinceSeq: number, maxBytes: number, untilSeq = Infinity): Promise<OutputRead> {
  const chunks: OutputRead['chunks'] = [];
  let index;
  try {
    index = await open(paths.index, 'r');
  } catch {
    return { chunks, nextSeq: sinceSeq, firstSeq: 1, evicted: false, more: false };
  }
  const handles: Partial<Record<StreamName, Awaited<ReturnType<typeof open>>>> = {};
  let more = false;
  try {
    const totalEntries = Math.floor((await index.stat()).size / ENTRY_BYTES);
    const last = Math.min(totalEntries, untilSeq - 1, sinceSeq + MAX_ENTRIES_PER_READ);
    const count = Math.max(0, last - sinceSeq);
    const entries = Buffer.alloc(count * ENTRY_BYTES);
    if (count > 0) await index.read(entries, 0, entries.length, sinceSeq * ENTRY_BYTES);
    let size = 0;
    for (let i = 0; i < count; i++) {
      const offset = entries.readDoubleLE(i * ENTRY_BYTES);
      const length = entries.readUInt32LE(i * ENTRY_BYTES + 8);
      const stream = CODE_STREAM[entries.readUInt8(i * ENTRY_BYTES + 12)];
      if (!stream) break;
      if (chunks.length > 0 && size + length > maxBytes) {
        more = true;
        break;
      }
      handles[stream] ??= await open(paths[stream], 'r');
      const data = Buffer.alloc(length);
      const { bytesRead } = await handles[stream].read(data, 0, length, offset);
      if (bytesRead < length) break; // not flushed yet: serve it next time
      chunks.push(new OutputChunk(sinceSeq + i + 1, stream, data, length));
      size += length;
    }
    if (!more) more = sinceSeq + chunks.length < Math.min(totalEntries, untilSeq - 1);
  } finally {
    await index.close();
    await Promise.all(Object.values(handles).map((h) => h.close()));
  }
  const nextSeq = chunks.length > 0 ? chunks[chunks.length - 1]!.seq : sinceSeq;
  return { chunks, nextSeq, firstSeq: 1, evicted: false, more };
}

/**
 * Scrollback on disk: walking the index back from `sinceSeq` (exclusive of what is already counted in
 * `bytes`), the lowest sinceSeq whose chunks still fit in `maxBytes` (at least one chunk in total).
 */
export async function tailStartOnDisk(paths: OutputPaths, sinceSeq: number, bytes: number, maxBytes: number): Promise<number> {
  let index;
  try {
    index = await open(paths.index, 'r');
  } catch {
    return sinceSeq;
  }
  try {
    const totalEntries = Math.floor((await index.stat()).size / ENTRY_BYTES);
    let since = Math.min(sinceSeq, totalEntries);
    const block = Buffer.alloc(4096 * ENTRY_BYTES);
    while (since > 0) {
      const count = Math.min(4096, since);
      const first = since - count; // entry index of seq first+1
      await index.read(block, 0, count * ENTRY_BYTES, first * ENTRY_BYTES);
      for (let i = count - 1; i >= 0; i--) {
        const length = block.readUInt32LE(i * ENTRY_BYTES + 8);
        if (bytes > 0 && bytes + length > maxBytes) return since;
        bytes += length;
        since--;
      }
    }
    return since;
  } finally {
    await index.close();
  }
}

/**
 * A byte range of one stream's log, as text (a range cut inside a character shows U+FFFD at its edges).
 * A log that does not exist is empty (nothing was printed on that stream); other errors are thrown.
 */
export async function readByteRange(path: string, offset: number, length: number): Promise<{ data: string; bytes: number; eof: boolean }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { data: '', bytes: 0, eof: true };
    throw e;
  }
  try {
    const size = (await handle.stat()).size;
    const n = Math.max(0, Math.min(length, size - offset));
    const buf = Buffer.alloc(n);
    if (n > 0) await handle.read(buf, 0, n, offset);
    return { data: buf.toString('utf8'), bytes: n, eof: offset + n >= size };
  } finally {
    await handle.close();
  }
}
