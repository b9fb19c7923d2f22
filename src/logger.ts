// Structured logs on stderr (fd 2): stdout belongs to the stdio transport. JSON lines, or readable lines on a terminal.
import { pino, type Logger } from 'pino';
import { createPrettyDestination } from './log-pretty.js';

export type { Logger };

/** `auto`: readable lines when the destination is a terminal, JSON lines otherwise (files, pipes, log collectors). */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  /** File descriptor to write to (default 2, stderr). */
  fd?: number;
  format?: LogFormat;
  /** Whether `fd` is a terminal (decides `auto`); default: asks the OS. */
  isTTY?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The format `auto` resolves to, and whether colours are on (pretty, a terminal, and NO_COLOR unset). */
export function resolveLogFormat(format: LogFormat, isTTY: boolean, env: NodeJS.ProcessEnv): { format: 'json' | 'pretty'; color: boolean } {
  const resolved = format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
  const noColor = (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb';
  return { format: resolved, color: resolved === 'pretty' && isTTY && !noColor };
}

export function createLogger(level: string, opts: LoggerOptions = {}): Logger {
  const fd = opts.fd ?? 2;
  const isTTY = opts.isTTY ?? (fd === 2 ? process.stderr.isTTY === true : false);
  const { format, color } = resolveLogFormat(opts.format ?? 'json', isTTY, opts.env ?? process.env);
  const base = { level, base: { service: 'cc-executor' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'pretty') return pino(base, createPrettyDestination(fd, color));
  return pino(base, pino.destination({ dest: fd, sync: true }));
}
