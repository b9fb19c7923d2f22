// The default backend: commands run on this machine, each in its own process group with two pipes.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ServerError } from '../../errors.js';
import type {
  BackendCapabilities,
  ExecutionBackend,
  HandleDescription,
  Launch,
  LaunchPlan,
  ProcessHandle,
  RecoveryResult,
} from '../backend.js';
import { baseChildEnv } from './child-env.js';
import { spawnGroupHandle } from './group-handle.js';
import { recoverGroup } from './recover-group.js';
import { resolveShell } from './shell.js';

/**
 * Rewrites a launch just before it is spawned, e.g. to run the command inside another program.
 * Plug-in point for the sandbox (bubblewrap: file becomes `bwrap`, args become its options, then the
 * original file and args) and for containment (a small entry program that joins the execution's cgroup,
 * then execs the original file). Wrappers run in list order, so the first one is innermost.
 */
export interface LaunchWrapper {
  readonly name: string;
  wrap(launch: Launch): Launch;
}

/**
 * Spawns a launch into a ProcessHandle of one kind. LocalBackend uses the first factory that accepts a launch.
 * Plug-in point for the PTY handle (accepts launches whose plan asks for `pty`) and the cgroup handle
 * (accepts every launch when the server may create cgroups; put it before the default group handle).
 */
export interface HandleFactory {
  readonly name: string;
  accepts(launch: Launch): boolean;
  /** Throws the OS error (ENOENT, EACCES...) when the command cannot start; LocalBackend reports SPAWN_FAILED. */
  spawn(launch: Launch): Promise<ProcessHandle>;
}

/** Pipes and a process group: accepts every launch without a PTY or open stdin. */
export const GROUP_HANDLE_FACTORY: HandleFactory = {
  name: 'process-group',
  accepts: (launch) => !launch.plan.pty && !launch.plan.interactive,
  spawn: (launch) =>
    spawnGroupHandle({
      file: launch.file,
      args: launch.args,
      cwd: launch.cwd,
      env: launch.env,
      ...(launch.plan.stdin !== undefined ? { stdin: launch.plan.stdin } : {}),
    }),
};

export interface LocalBackendOptions {
  /** Shell for `command` plans (falls back to /bin/sh when it is not executable). */
  shell: string;
  /** Which of the server's own variables children inherit (the env policy); all by default. */
  passesEnv?: (name: string) => boolean;
  /** Applied in order to every launch at spawn (sandbox, containment entry). */
  wrappers?: LaunchWrapper[];
  /** Tried in order; the first that accepts a launch spawns it. Default: the process-group handle alone. */
  factories?: HandleFactory[];
  /** The capabilities the added wrappers and factories bring (merged over the process-group defaults). */
  capabilities?: Partial<BackendCapabilities>;
}

export class LocalBackend implements ExecutionBackend {
  readonly name = 'local';
  /** The shell `command` plans run in (resolved once). */
  readonly shell: string;
  private readonly passesEnv: (name: string) => boolean;
  private readonly wrappers: LaunchWrapper[];
  private readonly factories: HandleFactory[];
  private readonly caps: BackendCapabilities;

  constructor(options: LocalBackendOptions) {
    this.shell = resolveShell(options.shell);
    this.passesEnv = options.passesEnv ?? (() => true);
    this.wrappers = [...(options.wrappers ?? [])];
    this.factories = [...(options.factories ?? [GROUP_HANDLE_FACTORY])];
    this.caps = {
      stdin: false,
      pty: false,
      pause: true,
      signals: true,
      containment: { mode: 'process-group', reason: 'each command is the leader of its own process group (setsid)' },
      sandbox: false,
      limits: [],
      ...options.capabilities,
    };
  }

  capabilities(): BackendCapabilities {
    return this.caps;
  }

  /** Resolve cwd (must be a directory), the environment (env policy, then the plan's changes) and the program. */
  prepare(plan: LaunchPlan): Launch {
    const cwd = checkCwd(plan.cwd);
    const env = this.buildEnv(plan.env);
    const shellMode = plan.command !== undefined;
    if (!shellMode && (plan.argv === undefined || plan.argv.length === 0)) {
      throw new ServerError('INVALID_INPUT', '`argv` needs at least a program name');
    }
    const launch: Launch = {
      plan,
      file: shellMode ? this.shell : plan.argv![0]!,
      args: shellMode ? ['-c', plan.command!] : plan.argv!.slice(1),
      cwd,
      env,
    };
    if (!this.factories.some((f) => f.accepts(launch))) {
      throw new ServerError('INVALID_INPUT', `this server cannot run a command ${plan.pty ? 'on a terminal' : 'with open stdin'}`);
    }
    return launch;
  }

  async spawn(launch: Launch): Promise<ProcessHandle> {
    const factory = this.factories.find((f) => f.accepts(launch));
    if (!factory) throw new ServerError('INVALID_INPUT', 'no local handle can run this launch');
    const wrapped = this.wrappers.reduce((l, w) => w.wrap(l), launch);
    try {
      return await factory.spawn(wrapped);
    } catch (e) {
      if (e instanceof ServerError) throw e;
      const err = e as NodeJS.ErrnoException;
      throw new ServerError('SPAWN_FAILED', `could not start ${launch.file}: ${err.code ?? err.message}`, {
        errno: err.code ?? null,
      });
    }
  }

  /** A record of this backend: terminate its process group if (and only if) it is still the same group. */
  recover(description: HandleDescription, graceMs: number): Promise<RecoveryResult> {
    if (description.backend !== this.name) return Promise.resolve({ killed: false });
    // Containment adds its cgroup recovery here (a description with a cgroup path: cgroup.kill, then rmdir).
    return recoverGroup(description, graceMs);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** A null value (set by a preExecute hook) removes the variable. */
  private buildEnv(extra: Record<string, string | null> | undefined): Record<string, string> {
    const env = baseChildEnv(this.passesEnv);
    for (const [k, v] of Object.entries(extra ?? {})) {
      if (k === '' || k.includes('=') || k.includes('\0') || v?.includes('\0')) {
        throw new ServerError('INVALID_INPUT', `invalid environment variable name or value: ${JSON.stringify(k)}`);
      }
      if (v === null) delete env[k];
      else env[k] = v;
    }
    return env;
  }
}

/** The absolute directory a command starts in (relative paths against the server's cwd); it must exist. */
function checkCwd(cwd: string | undefined): string {
  const dir = cwd === undefined ? process.cwd() : isAbsolute(cwd) ? cwd : resolve(process.cwd(), cwd);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new ServerError('INVALID_CWD', `cwd does not exist: ${dir}`);
  }
  if (!isDir) throw new ServerError('INVALID_CWD', `cwd is not a directory: ${dir}`);
  return dir;
}
