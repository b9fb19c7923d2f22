// The one reader of an execution's output: the memory window first, then the log files on disk, with no gap.
import { ServerError } from '../errors.js';
import type { Execution } from '../processes/execution.js';
import type { OutputRead, StreamName } from '../processes/output-log.js';
import { outputPaths, readByteRange, readOutputFiles, tailStartOnDisk } from './output-files.js';

/** Where one execution's output is: its live log (while in memory) and its files (while its record is kept). */
export interface OutputSource {
  execution: Execution | undefined;
  /** The record's base path (`<dir>/<time>_<id>`); undefined when nothing is saved for it. */
  base: string | undefined;
  /** Resolves once the output so far is in the log files (they are written in batches, a little behind memory). */
  written?: () => Promise<void>;
}

/**
 * Output chunks after `sinceSeq`, at most `maxBytes` (at least one chunk): from memory while it is still
 * there, and from the log files for whatever already left memory (or for a past execution).
 */
export async function readOutput(id: string, source: OutputSource, sinceSeq: number, maxBytes: number): Promise<OutputRead> {
  const { execution, base } = source;
  if (execution) {
    const mem = execution.log.read(sinceSeq, maxBytes);
    if (!mem.evicted || base === undefined) return mem;
    // The start of what was asked for left memory: serve it from disk up to where memory begins.
    let disk = await readOutputFiles(outputPaths(base), sinceSeq, maxBytes, mem.firstSeq);
    if (disk.chunks.length === 0 && source.written) {
      // Not on disk yet (the logs lag memory by a batch): wait for the files, then read again.
      await source.written();
      disk = await readOutputFiles(outputPaths(base), sinceSeq, maxBytes, mem.firstSeq);
    }
    if (disk.chunks.length === 0) return mem;
    return { ...disk, firstSeq: 1, evicted: false, more: disk.nextSeq < execution.log.seq };
  }
  if (base === undefined) throw new ServerError('NOT_FOUND', `no execution with id ${id}`);
  return readOutputFiles(outputPaths(base), sinceSeq, maxBytes);
}

/**
 * Scrollback: the chunks just before `beforeSeq`, at most `maxBytes` of them (at least one), from memory
 * or disk; `earlier` says older chunks exist. Continue forward from `nextSeq` if it ends short of `beforeSeq`.
 */
export async function readOutputBefore(
  id: string,
  source: OutputSource,
  beforeSeq: number,
  maxBytes: number,
): Promise<OutputRead & { earlier: boolean }> {
  const { execution, base } = source;
  let since: number;
  if (execution) {
    const mem = execution.log.tailStart(beforeSeq, maxBytes);
    since =
      mem.reachedWindowStart && base !== undefined
        ? await tailStartOnDisk(outputPaths(base), mem.sinceSeq, mem.bytes, maxBytes)
        : mem.sinceSeq;
  } else {
    if (base === undefined) throw new ServerError('NOT_FOUND', `no execution with id ${id}`);
    since = await tailStartOnDisk(outputPaths(base), beforeSeq - 1, 0, maxBytes);
  }
  // The window's bytes fit maxBytes, but one read stops where memory takes over from disk: join the pieces.
  let read = await readOutput(id, source, since, maxBytes);
  const chunks = read.chunks.filter((c) => c.seq < beforeSeq);
  while (read.more && read.chunks.length > 0 && read.nextSeq < beforeSeq - 1) {
    read = await readOutput(id, source, read.nextSeq, maxBytes);
    chunks.push(...read.chunks.filter((c) => c.seq < beforeSeq));
  }
  const nextSeq = chunks.length > 0 ? chunks[chunks.length - 1]!.seq : since;
  return { ...read, chunks, nextSeq, more: read.more || read.nextSeq > nextSeq, earlier: since > 0 };
}

/** A byte range of one stream's full log on disk. NOT_FOUND when that log is not saved. */
export async function readOutputRange(
  id: string,
  source: OutputSource,
  stream: StreamName,
  byteOffset: number,
  length: number,
): Promise<{ data: string; bytes: number; eof: boolean }> {
  const missing = () => new ServerError('NOT_FOUND', `no ${stream} log is saved for ${id}`);
  if (source.base === undefined) throw missing();
  return readByteRange(outputPaths(source.base)[stream], byteOffset, length).catch(() => {
    throw missing();
  });
}
