// `responses/summaries.jsonl`, one line per finished run: read in slices after the server listens, so a start
// never parses 100,000 summaries (30 MB) before it serves.
import { readFile } from 'node:fs/promises';
import type { RecordSummary } from './record-format.js';

/** The file's name inside `responses/`. */
export const SUMMARIES_FILE = 'summaries.jsonl';

/** One line of the summaries file: the record's file name, its summary, log bytes, end time, save errors. */
export interface SummaryLine {
  n: string;
  s: RecordSummary;
  l: number;
  e: number | null;
  x?: string[];
}

/** What a read found: the last line of each record name, how many lines there were, and whether any was torn. */
export interface SummariesRead {
  byName: Map<string, SummaryLine>;
  lines: number;
  torn: number;
}

/** Lines parsed per turn of the event loop (about 3 ms of work each on this machine). */
const LINES_PER_SLICE = 2_000;

/** A state a run can no longer leave. */
export function isFinal(state: string): boolean {
  return state !== 'running' && state !== 'paused';
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

function usable(l: SummaryLine | undefined): l is SummaryLine {
  return typeof l?.n === 'string' && typeof l.s?.id === 'string' && typeof l.s.state === 'string' && isFinal(l.s.state);
}

/**
 * Read the file asynchronously and parse it a slice of lines per turn of the event loop (one `JSON.parse`
 * per slice: a third of the time of a parse per line), so requests keep being served meanwhile.
 * Undefined when there is no file (a data dir from before summaries existed); a torn line is skipped and counted.
 */
export async function readSummaries(file: string): Promise<SummariesRead | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const out: SummariesRead = { byName: new Map(), lines: 0, torn: 0 };
  let at = 0;
  while (at < text.length) {
    // The end of the slice: LINES_PER_SLICE newlines on, or the end of the text.
    let end = at;
    for (let i = 0; i < LINES_PER_SLICE && end < text.length; i++) {
      const nl = text.indexOf('\n', end);
      end = nl === -1 ? text.length : nl + 1;
    }
    const slice = text.slice(at, end);
    at = end;
    const body = slice.endsWith('\n') ? slice.slice(0, -1) : slice;
    let parsed: SummaryLine[] | undefined;
    try {
      parsed = body.trim() === '' ? [] : (JSON.parse(`[${body.replaceAll('\n', ',')}]`) as SummaryLine[]);
    } catch {
      parsed = undefined; // a torn line (a crash mid-append) somewhere in this slice: line by line
    }
    if (parsed) {
      out.lines += parsed.length;
      for (const l of parsed) if (usable(l)) out.byName.set(l.n, l);
    } else {
      for (const line of body.split('\n')) {
        if (line.trim() === '') continue;
        out.lines++;
        try {
          const l = JSON.parse(line) as SummaryLine;
          if (usable(l)) out.byName.set(l.n, l);
        } catch {
          out.torn++;
        }
      }
    }
    await yieldToLoop();
  }
  return out;
}
