// One zod schema for every setting: defaults < JSON config file < CC_EXECUTOR_* env < CLI flags.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { defaultDataDir, resolveDataDir } from './data-dir.js';
import { HooksConfigSchema } from './hooks/hook-config.js';

const KIB = 1024;
const MIB = 1024 * KIB;

export const ConfigSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1').describe('Address the HTTP/WebSocket server binds'),
    port: z.number().int().min(0).max(65535).default(8003).describe('TCP port (0 = any free port)'),
    wsPath: z.string().startsWith('/').default('/ws/mcp').describe('WebSocket endpoint path'),
    mcpPath: z.string().startsWith('/').default('/mcp').describe('Streamable HTTP endpoint path'),
    console: z
      .boolean()
      .default(true)
      .describe('Serve the browser console at /console (behind the same Host, Origin and token checks); false turns it off'),
    publicHealth: z
      .boolean()
      .default(false)
      .describe('Serve /health and /healthz without the auth token (once auth is configured); /mcp and /metrics always need it'),
    stdio: z.boolean().default(false).describe('Serve one MCP session on stdin/stdout instead of the network'),
    backend: z
      .enum(['local'])
      .default('local')
      .describe('Where commands run: "local" = this machine, each command in its own process group (docs/backends.md)'),
    forkServer: z
      .boolean()
      .default(true)
      .describe(
        'Start commands from a small helper process (fork server) instead of the server itself: cheaper forks, none on the event loop; false spawns them from the server',
      ),
    shell: z.string().min(1).default('/bin/bash').describe('Shell for `command` mode (falls back to /bin/sh if missing)'),
    dataDir: z
      .string()
      .min(1)
      // A function, so the default follows XDG_STATE_HOME; loadConfig passes its own env's answer explicitly.
      .default(() => defaultDataDir(process.env))
      .describe(
        'Directory for records, output logs and duration history (default: $XDG_STATE_HOME/cc-executor or ~/.local/state/cc-executor)',
      ),
    maxRecords: z.number().int().min(1).default(1000).describe('Execution records kept in <dataDir>/responses (oldest pruned first)'),
    maxLogBytes: z
      .number()
      .int()
      .min(0)
      .default(1024 * MIB)
      .describe('Total size of kept output logs (oldest pruned first)'),
    retentionProtectMs: z
      .number()
      .int()
      .min(0)
      .max(2_147_483_647)
      .default(10 * 60_000)
      .describe("Finished runs' records and logs are kept at least this long after their end"),
    logLevel: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info')
      .describe('Log level (logs go to stderr)'),
    logFormat: z
      .enum(['auto', 'json', 'pretty'])
      .default('auto')
      .describe('Log lines on stderr: "pretty" (readable), "json" (one JSON object per line), "auto" (pretty on a terminal)'),

    defaultTimeoutMs: z.number().int().positive().default(600_000).describe('Kill deadline when a request gives none'),
    maxTimeoutMs: z.number().int().positive().default(86_400_000).describe('Largest deadline a request may ask for (clamped)'),
    graceMs: z.number().int().min(0).default(5_000).describe('SIGTERM -> SIGKILL grace period'),
    shutdownTimeoutMs: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'Longest an orderly shutdown may take before everything left is killed, records are written final and the server exits 1 (default: graceMs + 5000)',
      ),
    idleTimeoutMs: z.number().int().min(0).default(0).describe('Default idle timeout (0 = off)'),

    containment: z
      .enum(['auto', 'cgroup', 'process-group'])
      .default('auto')
      .describe('How a command and everything it starts are held: cgroup v2 (setsid-proof), process group, or auto (cgroup when usable)'),
    memoryMaxBytes: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Default memory limit per execution in bytes (cgroup memory.max; 0 = none; needs the memory controller)'),
    pidsMax: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Default process limit per execution (cgroup pids.max; 0 = none; needs the pids controller)'),
    cpuMax: z
      .string()
      .regex(/^(|\d+ \d+)$/, 'expected "<quota_us> <period_us>", e.g. "50000 100000"')
      .default('')
      .describe('Default CPU limit per execution, cgroup cpu.max "<quota_us> <period_us>" ("" = none; needs the cpu controller)'),

    inlineOutputChars: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('Inline output characters per stream in results: half head, half tail, cut at line boundaries'),
    outputBufferBytes: z
      .number()
      .int()
      .min(64 * KIB)
      // Small on purpose: output older than this is served from the log files on disk, and a bigger window
      // keeps every chunk alive long enough to reach V8's old space (docs/performance.md).
      .default(1 * MIB)
      .describe('Output kept in memory per execution (older output is read from disk)'),
    progressCoalesceMs: z.number().int().min(0).default(20).describe('Max delay before buffered output is sent as progress'),
    progressChunkBytes: z
      .number()
      .int()
      .min(1 * KIB)
      .default(64 * KIB)
      .describe('Max output bytes per progress notification'),
    readGatherUs: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(0)
      .describe(
        "Microseconds the event loop sleeps after a small read of a lone flooding command's output, so the next read takes more (at most once per loop turn; 0 = off; see docs/performance.md before turning it on)",
      ),
    progressHeartbeatMs: z.number().int().min(100).default(10_000).describe('Progress heartbeat while a command is silent'),
    highWaterBytes: z
      .number()
      .int()
      .min(64 * KIB)
      .default(1 * MIB)
      .describe('Per-session unsent bytes that pause the child pipes'),
    lowWaterBytes: z
      .number()
      .int()
      .min(0)
      .default(256 * KIB)
      .describe('Per-session unsent bytes below which pipes resume'),

    maxSessions: z
      .number()
      .int()
      .min(1)
      .default(100)
      .describe('Open sessions (connections) at most; more get HTTP 503 (original-protocol clients: error -32003, then close 1008)'),
    maxExecutions: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Running executions at most, server-wide (default: what the file-descriptor limit allows at 5 each, at most 256)'),
    maxExecutionsPerSession: z.number().int().min(1).default(32).describe('Running executions at most per session'),
    sessionIdleMs: z
      .number()
      .int()
      .min(0)
      .default(3_600_000)
      .describe('Close a session with no messages and no running execution for this long (0 = never)'),
    httpSessionIdleMs: z
      .number()
      .int()
      .min(0)
      .max(2_147_483_647)
      .default(300_000)
      .describe(
        'Close a Streamable HTTP session with no open request or stream and nothing running after this long (0 = sessionIdleMs applies)',
      ),
    reservedSessions: z
      .number()
      .int()
      .min(0)
      .default(10)
      .describe(
        'Slots of maxSessions Streamable HTTP sessions may not take, kept for WebSocket and stdio clients (at most maxSessions - 1)',
      ),
    detachedTtlMs: z
      .number()
      .int()
      .min(0)
      .default(86_400_000)
      .describe('A background execution whose session is gone is terminated after this long (0 = never)'),
    maxPayloadBytes: z
      .number()
      .int()
      .min(1 * KIB)
      .default(16 * MIB)
      .describe('Largest incoming WebSocket frame'),
    wsFramesPerSecond: z
      .number()
      .int()
      .min(0)
      .default(500)
      .describe(
        'Frames one WebSocket connection may send per second (bursts of twice that); past it the server reads slower (0 = no limit)',
      ),
    wsErrorBudget: z
      .number()
      .int()
      .min(0)
      .default(1_000)
      .describe('Error replies within 10 s after which a WebSocket connection is closed with 1008 (0 = no limit)'),
    pingIntervalMs: z.number().int().min(50).default(30_000).describe('WebSocket ping interval; a peer missing a pong is dropped'),
    legacyHeartbeatMs: z
      .number()
      .int()
      .min(0)
      .default(30_000)
      .describe('Original-protocol connections: interval of the `ping` notification (0 = off); never closes the connection'),
    legacyMaxLineChars: z
      .number()
      .int()
      .min(64 * KIB)
      // 1 Mi, not more: a line is held whole up to this (twice, while joined), and to a slow reader a 16 Mi one
      // cost +112 MiB of RSS; longer lines still arrive, in parts (docs/original-protocol.md).
      .default(1 * MIB)
      .describe('Original-protocol connections: longest line held whole per stream; a longer one is sent in several chunked parts'),

    loadCpuThreshold: z.number().min(0).max(100).default(14).describe('CPU % above which the machine counts as loaded'),
    loadGpuThreshold: z.number().min(0).max(100).default(14).describe('GPU % above which the machine counts as loaded'),
    loadMultiplier: z.number().min(1).default(3).describe('Deadline stretch factor while loaded'),
    cpuSampleMs: z.number().int().min(100).default(2_000).describe('CPU sampling interval'),
    gpuSampleMs: z.number().int().min(100).default(10_000).describe('GPU sampling interval'),

    hooks: HooksConfigSchema.describe('Pre/post execution hooks, JSON { preExecute: [...], postExecute: [...] } (docs/hooks.md)'),

    // Security (SECURITY.md says what each of these does and does not stop).
    authToken: z
      .string()
      .min(1)
      .optional()
      .describe('Token clients must send (Authorization: Bearer, or ?token=); also read from CC_EXECUTOR_TOKEN'),
    insecureNoAuth: z
      .boolean()
      .default(false)
      .describe('Allow binding a non-loopback host without authToken (anyone who can connect runs commands)'),
    allowedOrigins: z
      .array(z.string().min(1))
      .default([])
      .describe('Origin header values accepted (requests without Origin always pass); comma-separated in env/flags'),
    allowedHosts: z
      .array(z.string().min(1))
      .default([])
      .describe('Host header names accepted besides loopback names and the bind address ("*" = any)'),
    allowedCommands: z
      .array(z.string().min(1))
      .optional()
      .describe('When set: only these executables run, argv mode only (shell strings are refused)'),
    deniedCommands: z.array(z.string().min(1)).default([]).describe('Executables refused; when non-empty, shell strings are refused too'),
    allowedCwdRoots: z.array(z.string().min(1)).optional().describe('When set: cwd (realpath) must lie inside one of these directories'),
    envPolicy: z
      .enum(['inherit', 'allowlist'])
      .default('inherit')
      .describe("Children inherit the server's environment, or only envAllowlist"),
    envAllowlist: z
      .array(z.string().min(1))
      .default(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_*', 'TERM', 'TZ', 'TMPDIR'])
      .describe('Variables passed to children with envPolicy "allowlist" (NAME or PREFIX*)'),
    maxOutputBytes: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe('Output bytes per execution before it is terminated (output_limit; 0 = no limit)'),
    maxCommandBytes: z
      .number()
      .int()
      .min(1)
      .default(128 * KIB)
      .describe('Largest command string / total argv, in bytes'),
    maxExecutionsPerMinute: z.number().int().min(0).default(0).describe('Executions a session may start per minute (0 = no limit)'),
    grepBudgetMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(30_000)
      .describe('Time one status `grep` may search the logs; past it the answer is partial (grep.complete false)'),

    // Interactive executions and calls that must not outlive the client (docs/interactive.md).
    returnRunningAfterMs: z
      .number()
      .int()
      .min(0)
      .default(50_000)
      .describe(
        'An execute call without a progress token (such clients give up at 60 s) returns a running handle after this long (0 = never)',
      ),
    inputQuietMs: z
      .number()
      .int()
      .min(0)
      .default(300)
      .describe('Output quiet this long before a command blocked reading its stdin or terminal counts as waiting for input'),
    writeStdinWaitMs: z
      .number()
      .int()
      .min(0)
      .default(1_000)
      .describe('How long write_stdin waits for output, exit or the next prompt by default'),
    maxWriteStdinWaitMs: z.number().int().min(0).default(30_000).describe('Largest waitMs a write_stdin call may ask for'),
    // Sandbox (docs/sandbox.md; SECURITY.md says what it stops and what it does not).
    sandbox: z
      .enum(['off', 'available', 'always'])
      .default('off')
      .describe(
        'Run commands in a bubblewrap sandbox: "off", "available" (a request asks with `sandbox`), "always" (every command, no opting out)',
      ),
    sandboxNetwork: z
      .enum(['none', 'host'])
      .default('none')
      .describe('Network inside the sandbox: "none" (own namespace, loopback only) or "host"; a request may only ask for "none"'),
    sandboxWritableRoots: z
      .array(z.string().min(1))
      .default(['.'])
      .describe("Directories writable inside the sandbox besides a private /tmp; relative entries resolve against the execution's cwd"),
    sandboxHide: z
      .array(z.string().min(1))
      .default([
        '~/.ssh',
        '~/.aws',
        '~/.gnupg',
        '~/.config/gh',
        '~/.netrc',
        '~/.docker',
        '~/.kube',
        '/run/docker.sock',
        '/var/run/docker.sock',
      ])
      .describe("Paths unreadable inside the sandbox (~ = the server's HOME); the data dir and the config file are always hidden too"),
  })
  .strict();

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
type ConfigKey = keyof z.infer<typeof ConfigSchema>;

export const ENV_PREFIX = 'CC_EXECUTOR_';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Result of reading the command line: either a config (and the absolute path of the config file it was read from,
 * which the sandbox hides), or a request for help/version.
 */
export type LoadResult =
  { kind: 'config'; config: Config; configFile: string | undefined } | { kind: 'help'; text: string } | { kind: 'version' };

const DEFAULTS = ConfigSchema.parse({});
const KEYS = Object.keys(ConfigSchema.shape) as ConfigKey[];

function toKebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function toEnvName(key: string): string {
  return ENV_PREFIX + key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** The zod type of a key's value under optional/default ('array', 'number', 'string'...). */
function valueType(key: ConfigKey): string {
  let def = ConfigSchema.shape[key].def as { type: string; innerType?: { def: unknown } };
  while ((def.type === 'optional' || def.type === 'default') && def.innerType) def = def.innerType.def as typeof def;
  return def.type;
}

/** True for keys whose value is an array (optional or defaulted): env and flags give them comma-separated. */
function isArrayKey(key: ConfigKey): boolean {
  return valueType(key) === 'array';
}

// Env and CLI values are strings; the default's type (or the schema, for arrays) says how to read them.
function coerce(key: ConfigKey, raw: string | boolean, source: string): unknown {
  const sample = DEFAULTS[key];
  if (typeof raw === 'boolean') return raw;
  if (isArrayKey(key)) {
    // A JSON array, or the friendlier comma-separated list.
    if (raw.trim().startsWith('[')) {
      try {
        return JSON.parse(raw) as unknown;
      } catch (e) {
        throw new ConfigError(`${source}: expected a JSON array or a comma-separated list, ${(e as Error).message}`);
      }
    }
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  if (typeof sample === 'object' && sample !== null) {
    try {
      return JSON.parse(raw) as unknown;
    } catch (e) {
      throw new ConfigError(`${source}: expected JSON, ${(e as Error).message}`);
    }
  }
  // An optional number without a default (maxExecutions) has no sample to go by: its schema says.
  if (typeof sample === 'number' || valueType(key) === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`${source}: expected a number, got "${raw}"`);
    return n;
  }
  if (typeof sample === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${source}: expected true or false, got "${raw}"`);
  }
  return raw;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${path} must hold a JSON object`);
    }
    return parsed as Record<string, unknown>;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function renderHelp(): string {
  const lines = [
    'Usage: cc-executor [options]',
    '',
    'MCP server that runs shell commands: WebSocket on ws://HOST:PORT/ws/mcp and Streamable HTTP on',
    'http://HOST:PORT/mcp (health: /health, /healthz; Prometheus: /metrics), or stdio with --stdio.',
    'Precedence: defaults < --config FILE (JSON) < CC_EXECUTOR_* environment < flags.',
    '',
    'Options:',
    '  --config FILE                   JSON config file',
    '  --help, --version',
  ];
  for (const key of KEYS) {
    const field = ConfigSchema.shape[key];
    const flag = typeof DEFAULTS[key] === 'boolean' ? `--${toKebab(key)}` : `--${toKebab(key)} VALUE`;
    const desc = field.description ?? '';
    lines.push(`  ${flag.padEnd(31)} ${desc} [${toEnvName(key)}, default ${JSON.stringify(DEFAULTS[key]) ?? 'none'}]`);
  }
  return lines.join('\n');
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Merge every source and validate once. Throws ConfigError with a one-line message. */
export function loadConfig(opts: { argv: string[]; env: NodeJS.ProcessEnv }): LoadResult {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
    version: { type: 'boolean' },
  };
  for (const key of KEYS) options[toKebab(key)] = { type: typeof DEFAULTS[key] === 'boolean' ? 'boolean' : 'string' };

  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: opts.argv, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} (see --help)`);
  }
  if (values.help === true) return { kind: 'help', text: renderHelp() };
  if (values.version === true) return { kind: 'version' };

  const merged: Record<string, unknown> = {};
  const configPath = (values.config as string | undefined) ?? opts.env[`${ENV_PREFIX}CONFIG`];
  if (configPath) Object.assign(merged, readConfigFile(configPath));
  for (const key of KEYS) {
    const envName = toEnvName(key);
    const raw = opts.env[envName];
    if (raw !== undefined) merged[key] = coerce(key, raw, envName);
  }
  // The documented short name for the token; the derived CC_EXECUTOR_AUTH_TOKEN works too.
  const shortToken = opts.env[`${ENV_PREFIX}TOKEN`];
  if (shortToken !== undefined) {
    if (merged.authToken !== undefined && opts.env[toEnvName('authToken')] !== undefined && merged.authToken !== shortToken) {
      throw new ConfigError(`${ENV_PREFIX}TOKEN and ${toEnvName('authToken')} are both set and differ; set one`);
    }
    merged.authToken = shortToken;
  }
  for (const key of KEYS) {
    const raw = values[toKebab(key)];
    if (raw !== undefined) merged[key] = coerce(key, raw, `--${toKebab(key)}`);
  }
  // Never relative to wherever an MCP client happened to start us: the user's state directory, or the given path
  // made absolute once (docs/configuration.md, "Where data goes").
  merged.dataDir =
    typeof merged.dataDir === 'string' && merged.dataDir !== ''
      ? resolveDataDir(merged.dataDir)
      : (merged.dataDir ?? defaultDataDir(opts.env));
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${formatIssues(parsed.error)}`);
  const config = parsed.data;
  if (config.lowWaterBytes >= config.highWaterBytes) {
    throw new ConfigError('invalid configuration: lowWaterBytes must be below highWaterBytes');
  }
  return { kind: 'config', config: Object.freeze(config), configFile: configPath ? resolve(configPath) : undefined };
}

/** Config for tests and embedding: defaults plus overrides, validated. */
export function createConfig(overrides: Partial<z.input<typeof ConfigSchema>> = {}): Config {
  return Object.freeze(ConfigSchema.parse(overrides));
}
