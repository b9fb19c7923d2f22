// Reads an output log on disk line by line in fixed-size pieces: line ranges, and regular-expression search with context.
import { open } from 'node:fs/promises';
import vm from 'node:vm';
import { ServerError } from '../errors.js';
import { renderTerminalText } from '../processes/terminal-text.js';

/** Bytes read from disk at a time: memory use does not grow with the log. */
const READ_BYTES = 1 << 20;
/** The longest line kept whole (for matching and showing); the rest of a longer line is dropped. */
export const MAX_LINE_BYTES = 64 * 1024;
/** A line shown in a result is cut to this many characters. */
export const MAX_SHOWN_LINE_CHARS = 2_000;
/** One batch of lines may take the pattern this long: longer means catastrophic backtracking, a bad pattern. */
const BATCH_REGEX_MS = 2_000;

/** One line of a log: 1-based number and text (without its newline or a trailing \r). */
export interface LogLine {
  line: number;
  text: string;
}

/** Count of newline bytes in buf[start, end). */
function countNewlines(buf: Buffer | string, start: number, end: number): number {
  let n = 0;
  const nl = typeof buf === 'string' ? '\n' : 10;
  for (let i = buf.indexOf(nl as never, start); i !== -1 && i < end; i = buf.indexOf(nl as never, i + 1)) n++;
  return n;
}

/**
 * Calls `visit(text, firstLine)` with consecutive pieces of the log, each made of whole lines (the last piece
 * may end without a newline), read 1 MiB at a time. A line longer than MAX_LINE_BYTES keeps only its start.
 * `visit` returns true to stop. Resolves with the number of lines seen (a last line without newline counts).
 */
export async function scanChunks(path: string, visit: (text: string, firstLine: number) => boolean): Promise<number> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    // A stream that printed nothing has no log file: an empty log.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new ServerError('NOT_FOUND', `cannot read the output log ${path}: ${(e as Error).message}`);
  }
  try {
    const buf = Buffer.alloc(READ_BYTES);
    let line = 1;
    let carry = Buffer.alloc(0);
    let dropping = false; // the rest of an over-long line is being skipped
    let position = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, READ_BYTES, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      let piece = buf.subarray(0, bytesRead);
      if (dropping) {
        const nl = piece.indexOf(10);
        if (nl === -1) continue;
        piece = piece.subarray(nl);
        dropping = false;
      }
      const data = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
      const lastNl = data.lastIndexOf(10);
      if (lastNl === -1) {
        dropping = data.length > MAX_LINE_BYTES;
        carry = Buffer.from(data.subarray(0, MAX_LINE_BYTES));
        continue;
      }
      const lines = countNewlines(data, 0, lastNl + 1);
      if (visit(data.toString('utf8', 0, lastNl + 1), line)) return line + lines - 1;
      line += lines;
      // Copy: the read buffer is reused.
      carry = Buffer.from(data.subarray(lastNl + 1, lastNl + 1 + MAX_LINE_BYTES));
      dropping = data.length - (lastNl + 1) > MAX_LINE_BYTES;
    }
    if (carry.length === 0) return line - 1;
    visit(carry.toString('utf8'), line);
    return line;
  } finally {
    await handle.close();
  }
}

/**
 * A piece of a terminal's log as a model reads it: each line rendered on its own (colours and other escapes
 * removed, \r overwrites and backspaces collapsed), one line for one, so line numbers stay those of the log.
 */
export function renderTerminalLines(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : renderTerminalText(line, { maxHeldLines: 0 }).replace(/\n+$/, '').replace(/\n/g, ' ')))
    .join('\n');
}

/** The lines of a piece (whole lines, the last one maybe without newline), without newlines or trailing \r. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** A line shown in a result: cut to MAX_SHOWN_LINE_CHARS. */
export function shown(text: string): string {
  return text.length > MAX_SHOWN_LINE_CHARS ? `${text.slice(0, MAX_SHOWN_LINE_CHARS)}…` : text;
}

/** Lines `from`..`to` of a log, stopping early after `maxBytes` of text (at least one line). */
export async function readLines(
  path: string,
  from: number,
  to: number,
  maxBytes: number,
  render?: (text: string) => string,
): Promise<{ lines: LogLine[]; more: boolean; eof: boolean }> {
  const lines: LogLine[] = [];
  let bytes = 0;
  let more = false;
  let reachedTo = false;
  await scanChunks(path, (raw, first) => {
    // Pieces before the range are only counted, never split (nor rendered).
    const count = countNewlines(raw, 0, raw.length) + (raw.endsWith('\n') ? 0 : 1);
    if (first + count <= from) return false;
    const text = render ? render(raw) : raw;
    const all = splitLines(text);
    for (let i = Math.max(0, from - first); i < all.length; i++) {
      const line = first + i;
      if (line > to) return (reachedTo = true);
      const l = { line, text: all[i]!.length > MAX_LINE_BYTES ? all[i]!.slice(0, MAX_LINE_BYTES) : all[i]! };
      const size = Buffer.byteLength(l.text) + 1;
      if (lines.length > 0 && bytes + size > maxBytes) return (more = true);
      lines.push(l);
      bytes += size;
    }
    return false;
  });
  return { lines, more, eof: !more && !reachedTo };
}

export interface GrepMatch extends LogLine {
  /** Up to `context` lines before and after the match. */
  before: LogLine[];
  after: LogLine[];
}

export interface GrepOptions {
  context: number;
  maxMatches: number;
  /** Stop once the matches (with context) hold this many bytes of text. */
  maxBytes: number;
  /** Stop (complete: false) after this time (ms since the epoch): one budget across every log a search reads. */
  deadline: number;
  /** Turns each piece into the text searched and shown (line for line): renderTerminalLines for a PTY's log. */
  render?: (text: string) => string;
}

/** A pattern compiled from untrusted text: INVALID_INPUT with the parser's reason when it is not a valid regular expression. */
export function compilePattern(pattern: string, ignoreCase: boolean): RegExp {
  try {
    return new RegExp(pattern, ignoreCase ? 'i' : '');
  } catch (e) {
    throw new ServerError('INVALID_INPUT', `grep is not a valid regular expression: ${(e as Error).message}`, { field: 'grep' });
  }
}

/**
 * Every line of a log matching `re`, with context, until maxMatches or maxBytes. The pattern runs over whole
 * pieces of the log (candidates, each confirmed on its line alone) in a VM context with a time limit per
 * piece: a catastrophically backtracking pattern is refused, never a hang.
 */
export async function grepLog(
  path: string,
  re: RegExp,
  opts: GrepOptions,
): Promise<{ matches: GrepMatch[]; limitReached: boolean; complete: boolean; linesScanned: number }> {
  const context = vm.createContext({ job: null });
  vm.runInContext(
    // Offsets of the starts of matching lines. A match may span lines: its first line must match alone.
    // A piece ends with a newline: past it (where ^$ matches) is no line, it is the next piece's first.
    // At offset 0 the line starts at 0 (lastIndexOf with -1 would look at offset 0, an empty first line).
    'var run = function (wide, narrow, text) { var hits = []; wide.lastIndex = 0; var m;' +
      ' var stop = text.charCodeAt(text.length - 1) === 10 ? text.length : text.length + 1;' +
      ' while ((m = wide.exec(text)) !== null && m.index < stop) {' +
      " var start = m.index === 0 ? 0 : text.lastIndexOf('\\n', m.index - 1) + 1;" +
      " var end = text.indexOf('\\n', m.index); if (end === -1) end = text.length;" +
      ' var line = text.slice(start, end); if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);' +
      ' if (narrow.test(line)) hits.push(start); if (end >= text.length) break; wide.lastIndex = end + 1; }' +
      ' return hits; }',
    context,
  );
  const call = new vm.Script('run(job.wide, job.narrow, job.text)');
  const wide = new RegExp(re.source, `${re.flags.replace(/[gmy]/g, '')}gm`);
  const narrow = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
  const matches: GrepMatch[] = [];
  let recent: LogLine[] = []; // the last `context` lines of the previous piece
  let waiting: GrepMatch[] = []; // matches still collecting `after` lines
  let bytes = 0;
  let limitReached = false;
  let complete = true;
  const show = (line: number, text: string): LogLine => ({ line, text: shown(text.endsWith('\r') ? text.slice(0, -1) : text) });
  const linesScanned = await scanChunks(path, (raw, first) => {
    const text = opts.render ? opts.render(raw) : raw;
    context.job = { wide, narrow, text };
    let hits: number[];
    try {
      hits = call.runInContext(context, { timeout: BATCH_REGEX_MS }) as number[];
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT')
        throw new ServerError('INVALID_INPUT', 'grep pattern is too slow (catastrophic backtracking?): simplify it', { field: 'grep' });
      throw e;
    }
    // Lines [from, to) of this piece by line index, for context (only near matches is anything split).
    const lineAt = (offset: number): { text: string; next: number } => {
      const end = text.indexOf('\n', offset);
      return { text: text.slice(offset, end === -1 ? text.length : end), next: end === -1 ? text.length : end + 1 };
    };
    if (waiting.length > 0) {
      let offset = 0;
      for (let line = first; waiting.length > 0 && offset < text.length; line++) {
        const l = lineAt(offset);
        for (const m of waiting) if (m.after.length < opts.context) m.after.push(show(line, l.text));
        waiting = waiting.filter((m) => m.after.length < opts.context);
        offset = l.next;
      }
      if (limitReached && waiting.length === 0) return true;
    }
    let line = first;
    let at = 0;
    for (const start of hits) {
      line += countNewlines(text, at, start);
      at = start;
      if (limitReached) return true;
      const here = lineAt(start);
      const match: GrepMatch = { ...show(line, here.text), before: [], after: [] };
      // Before: walk back within the piece, then the previous piece's last lines.
      let back = start;
      for (let k = 1; k <= opts.context && line - k >= 1; k++) {
        if (back > 0) {
          // back - 2 < 0 (an empty first line) would make lastIndexOf look at offset 0: that line starts at 0.
          const prevStart = back >= 2 ? text.lastIndexOf('\n', back - 2) + 1 : 0;
          match.before.unshift(show(line - k, text.slice(prevStart, back - 1)));
          back = prevStart;
        } else {
          const r = recent.find((x) => x.line === line - k);
          if (r) match.before.unshift(r);
        }
      }
      // After: forward within the piece; the rest comes from the next piece.
      let fwd = here.next;
      while (match.after.length < opts.context && fwd < text.length) {
        const l = lineAt(fwd);
        match.after.push(show(line + match.after.length + 1, l.text));
        fwd = l.next;
      }
      if (match.after.length < opts.context) waiting.push(match);
      matches.push(match);
      bytes += match.text.length + [...match.before, ...match.after].reduce((n, r) => n + r.text.length, 0);
      if (matches.length >= opts.maxMatches || bytes >= opts.maxBytes) limitReached = true;
    }
    if (limitReached && waiting.length === 0) return true;
    if (opts.context > 0) {
      const total = first + countNewlines(text, 0, text.length);
      const tailLines = splitLines(text.slice(Math.max(0, nthLastLineStart(text, opts.context))));
      recent = tailLines.map((t, i) => show(total - tailLines.length + i, t));
    }
    if (Date.now() > opts.deadline) {
      complete = false;
      return true;
    }
    return false;
  });
  return { matches, limitReached, complete, linesScanned };
}

/** Offset where the last `n` lines of a piece (ending with a newline) start. */
function nthLastLineStart(text: string, n: number): number {
  let at = text.endsWith('\n') ? text.length - 1 : text.length;
  for (let k = 0; k < n && at > 0; k++) at = text.lastIndexOf('\n', at - 1);
  return at <= 0 ? 0 : at + 1;
}
