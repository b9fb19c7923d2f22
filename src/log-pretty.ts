// Turns pino's JSON lines into lines a person reads at a terminal: time, level, message, then the fields.
import { writeSync } from 'node:fs';

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '\x1b[90m' },
  20: { name: 'DEBUG', color: '\x1b[36m' },
  30: { name: 'INFO', color: '\x1b[32m' },
  40: { name: 'WARN', color: '\x1b[33m' },
  50: { name: 'ERROR', color: '\x1b[31m' },
  60: { name: 'FATAL', color: '\x1b[35m' },
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
/** Fields every line has, shown in the line's prefix or not at all. */
const OMIT = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);
/** Past this width the fields go one per line under the message instead of after it. */
const INLINE_FIELDS_MAX_CHARS = 100;

/** `a.b=c` pairs for nested objects; arrays and long values stay JSON. */
function flatten(value: unknown, prefix: string, out: Array<[string, string]>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.push([prefix, typeof value === 'string' ? value : JSON.stringify(value)]);
}

/**
 * Format one pino JSON line. `color` adds ANSI colours to the level and dims the fields.
 * A line that is not JSON (should not happen) is passed through unchanged.
 */
export function formatLogLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = LEVELS[rec.level as number] ?? { name: String(rec.level), color: '' };
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : new Date().toISOString().slice(11, 23);
  const paint = (code: string, text: string) => (color ? `${code}${text}${RESET}` : text);
  const head = `${paint(DIM, time)} ${paint(level.color, level.name.padEnd(5))} ${typeof rec.msg === 'string' ? rec.msg : JSON.stringify(rec.msg ?? '')}`;

  let stack: string | undefined;
  const fields: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(rec)) {
    if (OMIT.has(k)) continue;
    if (k === 'err' && v !== null && typeof v === 'object') {
      const err = v as { message?: unknown; stack?: unknown };
      stack = typeof err.stack === 'string' ? err.stack : undefined;
      fields.push(['err', typeof err.message === 'string' ? err.message : JSON.stringify(v)]);
      continue;
    }
    flatten(v, k, fields);
  }
  const inline = fields.map(([k, v]) => `${k}=${/\s/.test(v) ? JSON.stringify(v) : v}`).join(' ');
  let text = head;
  if (inline.length > 0 && inline.length <= INLINE_FIELDS_MAX_CHARS) text += ` ${paint(DIM, inline)}`;
  else if (inline.length > 0) {
    const width = Math.max(...fields.map(([k]) => k.length));
    for (const [k, v] of fields) text += `\n    ${paint(DIM, `${k.padEnd(width)}  `)}${v}`;
  }
  if (stack) text += `\n${stack.replace(/^/gm, '    ')}`;
  return `${text}\n`;
}

/** A pino destination that writes formatted lines to a file descriptor, synchronously (logs must not be lost at exit). */
export function createPrettyDestination(fd: number, color: boolean): { write(line: string): void } {
  return {
    write(chunk: string) {
      // pino writes one record per call, newline-terminated.
      for (const line of chunk.split('\n')) if (line !== '') writeSync(fd, formatLogLine(line, color));
    },
  };
}
