// Argument helpers shared by the client subcommands: node:util parseArgs, options before the command, durations, env pairs.
import { parseArgs } from 'node:util';
import { MIN_ID_PREFIX_CHARS } from '../processes/id-lookup.js';
import { UsageError } from './exit-codes.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Options every client subcommand takes. */
export const COMMON_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

export const COMMON_HELP = [
  '  --url URL          Server WebSocket URL [CC_EXECUTOR_URL, default ws://127.0.0.1:8003/ws/mcp]',
  '  --token TOKEN      Access token, sent as the `token` query parameter [CC_EXECUTOR_TOKEN]',
  '  --json             Machine-readable output',
  '  -h, --help         This help',
];

export interface CommonValues {
  url?: string | undefined;
  token?: string | undefined;
  json?: boolean | undefined;
  help?: boolean | undefined;
}

/** parseArgs in strict mode, with its message turned into a usage error. */
export function parseOptions<T extends OptionSpec>(
  args: string[],
  options: T,
  allowPositionals: boolean,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals });
    return { values, positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * Split `[options] [--] command...`: options end at `--` or at the first word that is not an option
 * (like `env`, `sudo`, `timeout`), so the command's own flags never need quoting.
 */
export function splitAtCommand(args: string[], options: OptionSpec): { optionArgs: string[]; command: string[] } {
  const takesValue = new Set<string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (spec.short) takesValue.add(`-${spec.short}`);
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return { optionArgs: args.slice(0, i), command: args.slice(i + 1) };
    if (!a.startsWith('-') || a === '-') return { optionArgs: args.slice(0, i), command: args.slice(i) };
    if (takesValue.has(a)) i++; // `--cwd DIR`: the next word is the value, whatever it looks like
  }
  return { optionArgs: args, command: [] };
}

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "10m", "30s", "1.5h", "250ms"; a bare number is seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: expected a duration like 30s, 10m, 2h or 500ms, got ${JSON.stringify(text)}`);
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
  if (ms <= 0) throw new UsageError(`${flag}: the duration must be positive`);
  return ms;
}

/** `--env K=V` sets K; `--env K` passes our own value of K (like `docker run -e K`). */
export function parseEnvPairs(pairs: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (key === '') throw new UsageError(`--env: expected NAME=VALUE, got ${JSON.stringify(pair)}`);
    if (eq !== -1) out[key] = pair.slice(eq + 1);
    else if (env[key] !== undefined) out[key] = env[key];
    else throw new UsageError(`--env ${key}: ${key} is not set here; give a value with ${key}=VALUE`);
  }
  return out;
}

export function checkIdArg(id: string | undefined, usage: string): string {
  if (id === undefined || id === '') throw new UsageError(`missing execution id (${usage})`);
  // The server's own rule (a tiny module: the client loads nothing else of the server for it).
  if (id.length < MIN_ID_PREFIX_CHARS)
    throw new UsageError(`id prefix ${JSON.stringify(id)} is too short: give at least ${MIN_ID_PREFIX_CHARS} characters`);
  return id;
}
