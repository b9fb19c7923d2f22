// Reads an execution's output through `status` with a sinceSeq cursor, so every chunk is delivered exactly once.
import type { Connection } from './connect.js';

/** Bytes asked for per `status` page. */
export const PAGE_MAX_BYTES = 1024 * 1024;

export interface OutputChunk {
  seq: number;
  stream: 'stdout' | 'stderr';
  data: string;
}

/** The `status` tool's answer for one execution (the fields the client uses). */
export interface StatusAnswer {
  id: string;
  state: 'running' | 'paused' | 'exited';
  exitCode: number | null;
  signal: string | null;
  terminationReason: string | null;
  command: string | null;
  argv: string[] | null;
  durationMs: number;
  lastSeq: number;
  output: { chunks: OutputChunk[]; nextSeq: number; firstSeq: number; evicted: boolean; more: boolean };
  [key: string]: unknown;
}

export interface PageResult {
  answer: StatusAnswer;
  /** Chunks after the cursor (never one at or below it). */
  fresh: OutputChunk[];
  /** The new cursor. */
  cursor: number;
  /** Seqs that were evicted from the server's memory between the cursor and the first fresh chunk. */
  lostChunks: number;
}

/** Fetch one page of output after `cursor`. */
export async function readPage(conn: Connection, id: string, cursor: number, timeoutMs?: number): Promise<PageResult> {
  const answer = (await conn.call(
    'status',
    { id, sinceSeq: cursor, maxBytes: PAGE_MAX_BYTES },
    timeoutMs === undefined ? {} : { timeout: timeoutMs },
  )) as unknown as StatusAnswer;
  const fresh = answer.output.chunks.filter((c) => c.seq > cursor);
  const lostChunks = answer.output.evicted ? Math.max(0, answer.output.firstSeq - cursor - 1) : 0;
  const next = Math.max(cursor, answer.output.nextSeq, fresh.at(-1)?.seq ?? 0);
  return { answer, fresh, cursor: next, lostChunks };
}
