// The command policy from config (never from a request): which executables run, where, with which environment, how often.
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import type { Config } from '../config.js';
import { ServerError } from '../errors.js';

export type PolicyConfig = Pick<
  Config,
  'allowedCommands' | 'deniedCommands' | 'allowedCwdRoots' | 'envPolicy' | 'envAllowlist' | 'maxCommandBytes' | 'maxExecutionsPerMinute'
>;

export interface PolicyRequest {
  sessionId: string;
  command?: string;
  argv?: string[];
  /** A null value (set by a preExecute hook) removes a variable. */
  env?: Record<string, string | null>;
}

/** What to spawn once the request passed: `file` for argv mode, and the directory to start in. */
export interface PolicyDecision {
  /** argv mode: the program to spawn; an absolute, checked path whenever a command list is set. */
  file: string | undefined;
  /** The working directory; its realpath (the one that was checked) when allowedCwdRoots is set. */
  cwd: string;
}

const RATE_WINDOW_MS = 60_000;
/** Dynamic-loader variables run code inside any allowed program: refused in requests while a command list is set. */
const LOADER_ENV = /^(LD_|DYLD_)/;

interface Executable {
  /** Absolute path found through PATH (or given), symlinks not followed: what is spawned. */
  path: string;
  /** Its realpath: the file that actually runs. */
  real: string;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolve a program name the way execvp would, but only through the absolute directories of `pathVar`
 * (a relative PATH entry would resolve against the request's cwd). A name with a slash is taken relative to `cwd`.
 */
export function resolveExecutable(name: string, cwd: string, pathVar: string | undefined): Executable | undefined {
  const candidates = name.includes('/')
    ? [resolve(cwd, name)]
    : (pathVar ?? '')
        .split(':')
        .filter((dir) => isAbsolute(dir))
        .map((dir) => join(dir, name));
  for (const path of candidates) {
    if (!isExecutableFile(path)) continue;
    try {
      return { path, real: realpathSync(path) };
    } catch {
      continue;
    }
  }
  return undefined;
}

function isInside(dir: string, root: string): boolean {
  return dir === root || root === sep || dir.startsWith(root.endsWith(sep) ? root : root + sep);
}

function matchesName(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** The env policy as a test of one variable name of the server's environment: passed on to children or not. */
export function envPasses(config: Pick<Config, 'envPolicy' | 'envAllowlist'>): (name: string) => boolean {
  return (name) => config.envPolicy === 'inherit' || matchesName(name, config.envAllowlist);
}

export class CommandPolicy {
  /** Start times (ms) of each session's executions within the last minute. */
  private readonly starts = new Map<string, number[]>();

  constructor(
    private readonly config: PolicyConfig,
    /** PATH that names in requests and in the command lists resolve through: the server's, never the request's. */
    private readonly pathVar: string | undefined = process.env.PATH,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when a command list is in force: then only argv mode runs, and only checked absolute paths are spawned. */
  get listsActive(): boolean {
    return this.config.allowedCommands !== undefined || this.config.deniedCommands.length > 0;
  }

  /**
   * Check a request against the policy; `cwd` is the absolute directory it would start in.
   * Throws ServerError FORBIDDEN, INVALID_INPUT (maxCommandBytes) or LIMIT_REACHED (maxExecutionsPerMinute).
   * Only a request that passes counts towards the per-minute rate, and only with `countRate` (the check
   * again after preExecute hooks changed the request does not count twice).
   */
  check(req: PolicyRequest, cwd: string, opts: { countRate?: boolean } = {}): PolicyDecision {
    this.checkSize(req);
    const file = this.checkCommand(req, cwd);
    const dir = this.checkCwd(cwd);
    this.checkRequestEnv(req.env);
    if (opts.countRate ?? true) this.admit(req.sessionId);
    return { file, cwd: dir };
  }

  /** Configuration that cannot do what it says (entries that resolve to nothing), for a warning at start. */
  problems(): string[] {
    const out: string[] = [];
    for (const key of ['allowedCommands', 'deniedCommands'] as const) {
      for (const entry of this.config[key] ?? []) {
        if (!resolveExecutable(entry, process.cwd(), this.pathVar))
          out.push(`${key}: ${JSON.stringify(entry)} is not an executable on PATH`);
      }
    }
    for (const root of this.config.allowedCwdRoots ?? []) {
      try {
        if (!statSync(root).isDirectory()) out.push(`allowedCwdRoots: ${root} is not a directory`);
      } catch {
        out.push(`allowedCwdRoots: ${root} does not exist`);
      }
    }
    return out;
  }

  private checkSize(req: PolicyRequest): void {
    const bytes =
      req.command !== undefined
        ? Buffer.byteLength(req.command, 'utf8')
        : (req.argv ?? []).reduce((n, a) => n + Buffer.byteLength(a, 'utf8') + 1, 0);
    const max = this.config.maxCommandBytes;
    if (bytes > max) {
      throw new ServerError('INVALID_INPUT', `the command is ${bytes} bytes; maxCommandBytes is ${max}`, {
        limit: 'maxCommandBytes',
        bytes,
        maxCommandBytes: max,
      });
    }
  }

  private checkCommand(req: PolicyRequest, cwd: string): string | undefined {
    const allowed = this.config.allowedCommands;
    const denied = this.config.deniedCommands;
    if (!this.listsActive) return req.argv?.[0];
    const rule = allowed !== undefined ? 'allowedCommands' : 'deniedCommands';
    if (req.command !== undefined) {
      // A shell string can hide any program behind `;`, `$(...)`, quoting or variables: it cannot be checked.
      throw new ServerError(
        'FORBIDDEN',
        `shell strings are refused while ${rule} is set, because what a shell runs cannot be checked; give \`argv\` instead`,
        { policy: rule },
      );
    }
    const name = req.argv![0]!;
    const exe = resolveExecutable(name, cwd, this.pathVar);
    if (exe === undefined) {
      throw new ServerError(
        'FORBIDDEN',
        `${JSON.stringify(name)} is not an executable on the server's PATH, so ${rule} cannot vouch for it`,
        { policy: rule, executable: name },
      );
    }
    for (const entry of denied) {
      const d = resolveExecutable(entry, process.cwd(), this.pathVar);
      // Broad on purpose: the same file under any name, or any file with a denied name.
      if ((d && d.real === exe.real) || basename(entry) === basename(exe.path)) {
        throw new ServerError('FORBIDDEN', `${exe.path} is in deniedCommands`, { policy: 'deniedCommands', executable: exe.path });
      }
    }
    if (allowed !== undefined) {
      // Narrow on purpose: the same file AND the same name, so a multi-call binary (busybox) allowed as `echo`
      // does not also allow its `rm`.
      const ok = allowed.some((entry) => {
        const a = resolveExecutable(entry, process.cwd(), this.pathVar);
        return a !== undefined && a.real === exe.real && basename(a.path) === basename(exe.path);
      });
      if (!ok) {
        throw new ServerError('FORBIDDEN', `${exe.path} is not in allowedCommands`, { policy: 'allowedCommands', executable: exe.path });
      }
    }
    return exe.path;
  }

  private checkCwd(cwd: string): string {
    const roots = this.config.allowedCwdRoots;
    if (roots === undefined) return cwd;
    let real: string;
    try {
      real = realpathSync(cwd);
    } catch {
      throw new ServerError('INVALID_CWD', `cwd does not exist: ${cwd}`);
    }
    for (const root of roots) {
      let realRoot: string;
      try {
        realRoot = realpathSync(resolve(root));
      } catch {
        continue; // a root that does not exist contains nothing
      }
      if (isInside(real, realRoot)) return real;
    }
    throw new ServerError('FORBIDDEN', `cwd ${real} is outside allowedCwdRoots`, { policy: 'allowedCwdRoots', cwd: real });
  }

  private checkRequestEnv(env: Record<string, string | null> | undefined): void {
    if (!this.listsActive || env === undefined) return;
    const bad = Object.keys(env).filter((k) => LOADER_ENV.test(k) && env[k] !== null);
    if (bad.length > 0) {
      throw new ServerError(
        'FORBIDDEN',
        `${bad.join(', ')} cannot be set while a command list is in force: it loads code into any program`,
        {
          policy: this.config.allowedCommands !== undefined ? 'allowedCommands' : 'deniedCommands',
          env: bad,
        },
      );
    }
  }

  private admit(sessionId: string): void {
    const max = this.config.maxExecutionsPerMinute;
    if (max <= 0) return;
    const now = this.now();
    const cutoff = now - RATE_WINDOW_MS;
    for (const [id, times] of this.starts) if (times[times.length - 1]! <= cutoff) this.starts.delete(id);
    const times = this.starts.get(sessionId) ?? [];
    while (times.length > 0 && times[0]! <= cutoff) times.shift();
    if (times.length >= max) {
      const retryAfterMs = times[0]! + RATE_WINDOW_MS - now;
      throw new ServerError(
        'LIMIT_REACHED',
        `maxExecutionsPerMinute (${max}) executions already started by this session in the last minute; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
        { limit: 'maxExecutionsPerMinute', retryAfterMs },
      );
    }
    times.push(now);
    this.starts.set(sessionId, times);
  }
}
