// The default backend: commands run on this machine, each in its own process group with two pipes.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ServerError } from '../../errors.js';
import { countOpenFds, fdExhaustedError, isFdExhaustion, readFdLimits } from '../../system/fd-budget.js';
import type {
  BackendCapabilities,
  ExecutionBackend,
  HandleDescription,
  Launch,
  LaunchPlan,
  ProcessHandle,
  RecoveryResult,
  ResourceLimits,
} from '../backend.js';
import { cgroupFactory } from './cgroup-handle.js';
import { baseChildEnv } from './child-env.js';
import { mergeLimits, type Containment } from './containment.js';
import { ForkServer } from './fork-server.js';
import { spawnGroupHandle, spawnGroupHandleFrom } from './group-handle.js';
import type { SpawnSpec } from './process-group.js';
import { EXECUTION_ID_VAR, recoverOrphans } from './recover-orphans.js';
import { PtyHandle } from './pty-handle.js';
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
  /**
   * Optional: decorate the handle spawned from a launch this wrapper rewrote (`launch` is the original), e.g. the
   * sandbox reaching processes inside its PID namespace. Applied in list order, innermost first.
   */
  wrapHandle?(handle: ProcessHandle, launch: Launch): ProcessHandle;
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
  /**
   * Optional: true when spawn() forks the command synchronously, inside the call, before its promise is
   * returned. Cgroup containment then forks it inside its cgroup directly (CgroupTree.forkInto) instead of
   * wrapping it in an entry shell.
   */
  readonly forksInCall?: boolean;
  /**
   * Optional: spawn the launch forked inside a cgroup (`procs`: its cgroup.procs) by a helper that moves itself in
   * around the fork and back to `home` after; `stuck` when it could not move back. Cgroup containment prefers it
   * to forkInto (which moves the server itself).
   */
  spawnInCgroup?(launch: Launch, cgroup: { procs: string; home: string }): Promise<{ handle: ProcessHandle; stuck: boolean }>;
}

/** Pipes and a process group: accepts every launch without a PTY (an interactive one keeps its stdin pipe open). */
export const GROUP_HANDLE_FACTORY: HandleFactory = {
  name: 'process-group',
  accepts: (launch) => !launch.plan.pty,
  // ProcessGroup.spawn calls child_process.spawn (a synchronous fork and exec) before its first await.
  forksInCall: true,
  spawn: (launch) => spawnGroupHandle(groupSpec(launch)),
};

function groupSpec(launch: Launch): SpawnSpec {
  return {
    file: launch.file,
    args: launch.args,
    cwd: launch.cwd,
    env: launch.env,
    ...(launch.plan.stdin !== undefined ? { stdin: launch.plan.stdin } : {}),
    ...(launch.plan.interactive ? { interactive: true } : {}),
  };
}

/** Pipes and a process group like GROUP_HANDLE_FACTORY, but forked by the fork server (a small helper process). */
export function forkServerGroupFactory(forkServer: ForkServer): HandleFactory {
  return {
    name: 'process-group (fork server)',
    accepts: (launch) => !launch.plan.pty,
    spawn: async (launch) => (await spawnGroupHandleFrom(forkServer, groupSpec(launch))).handle,
    spawnInCgroup: (launch, cgroup) => spawnGroupHandleFrom(forkServer, groupSpec(launch), cgroup),
  };
}

/** A pseudo-terminal (@lydell/node-pty): accepts launches that ask for one. */
export const PTY_HANDLE_FACTORY: HandleFactory = {
  name: 'pty',
  accepts: (launch) => Boolean(launch.plan.pty),
  spawn: (launch) => {
    const handle = PtyHandle.spawn({ file: launch.file, args: launch.args, cwd: launch.cwd, env: launch.env, size: launch.plan.pty! });
    if (launch.plan.stdin !== undefined && launch.plan.stdin !== '') handle.stdin.write(launch.plan.stdin);
    return Promise.resolve(handle);
  },
};

export interface LocalBackendOptions {
  /** Shell for `command` plans (falls back to /bin/sh when it is not executable). */
  shell: string;
  /** Which of the server's own variables children inherit (the env policy); all by default. */
  passesEnv?: (name: string) => boolean;
  /** Applied in order to every launch at spawn (sandbox, containment entry). */
  wrappers?: LaunchWrapper[];
  /** Tried in order; the first that accepts a launch spawns it. Default: the PTY handle (launches asking for a terminal), then the process-group handle. */
  factories?: HandleFactory[];
  /** The capabilities the added wrappers and factories bring (merged over the process-group defaults). */
  capabilities?: Partial<BackendCapabilities>;
  /**
   * How everything a command starts is held (chooseContainment at start). In cgroup mode every factory is
   * wrapped so its launches run in a cgroup of their own. Default: process groups.
   */
  containment?: Containment;
  /** The server's default limits; a plan may only tighten them. */
  limits?: ResourceLimits;
  /**
   * Spawn commands (pipes, no PTY) from the fork server, a small helper process started now, instead of from this
   * process: a fork costs in proportion to the forker's memory, and the server's event loop waits for it.
   * Ignored when `factories` is given. Default: false (the server's config turns it on: `forkServer`).
   */
  forkServer?: boolean;
}

export class LocalBackend implements ExecutionBackend {
  readonly name = 'local';
  /** The shell `command` plans run in (resolved once). */
  readonly shell: string;
  private readonly passesEnv: (name: string) => boolean;
  private readonly wrappers: LaunchWrapper[];
  private readonly factories: HandleFactory[];
  private readonly caps: BackendCapabilities;
  private readonly containment: Containment;
  private readonly limits: ResourceLimits;
  private readonly forkServer: ForkServer | undefined;
  /**
   * The server's own variables as children inherit them (env policy applied), built at the first launch and
   * copied for each: the server's environment does not change while it runs, and walking `process.env` (a
   * native interceptor per key) cost ~0.4 ms per execute, on the path between the request and the fork.
   */
  private baseEnv: Readonly<Record<string, string>> | undefined;

  constructor(options: LocalBackendOptions) {
    this.shell = resolveShell(options.shell);
    this.passesEnv = options.passesEnv ?? (() => true);
    this.wrappers = [...(options.wrappers ?? [])];
    this.containment = options.containment ?? {
      mode: 'process-group',
      reason: 'each command is the leader of its own process group (setsid)',
      tree: null,
    };
    this.limits = options.limits ?? {};
    const tree = this.containment.tree;
    if (options.forkServer && !options.factories) {
      this.forkServer = new ForkServer(this.containment.tree?.serverDir);
      this.forkServer.start();
    }
    const factories = [
      ...(options.factories ?? [PTY_HANDLE_FACTORY, this.forkServer ? forkServerGroupFactory(this.forkServer) : GROUP_HANDLE_FACTORY]),
    ];
    // The cgroup entry is outermost: it wraps whatever the other wrappers (a sandbox) made of the launch.
    this.factories = tree ? factories.map((f) => cgroupFactory(f, tree)) : factories;
    this.caps = {
      stdin: true,
      pty: true,
      pause: true,
      signals: true,
      sandbox: false,
      ...options.capabilities,
      containment: { mode: this.containment.mode, reason: this.containment.reason },
      limits: tree ? (['memoryMaxBytes', 'pidsMax', 'cpuMax'] as const).filter((l) => !tree.unsupportedLimit(l)) : [],
    };
  }

  capabilities(): BackendCapabilities {
    return this.caps;
  }

  /** Resolve cwd (must be a directory), the environment (env policy, then the plan's changes) and the program. */
  prepare(plan: LaunchPlan): Launch {
    const cwd = checkCwd(plan.cwd);
    const env = this.buildEnv(plan.env);
    // Every process of the execution carries its id: recovery finds a setsid'd child of a crashed server by it.
    env[EXECUTION_ID_VAR] = plan.id;
    const limits = mergeLimits(this.limits, plan.limits, this.containment);
    plan = { ...plan, limits };
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
      const handle = await factory.spawn(wrapped);
      return this.wrappers.reduce((h, w) => (w.wrapHandle ? w.wrapHandle(h, launch) : h), handle);
    } catch (e) {
      if (e instanceof ServerError) throw e;
      // Short of descriptors: this one request is refused with a code a client can retry on, the server carries on.
      if (isFdExhaustion(e)) throw fdExhaustedError({ limit: readFdLimits()?.soft ?? null, inUse: countOpenFds() });
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EAGAIN') {
        throw new ServerError('RESOURCE_EXHAUSTED', `could not start ${launch.file}: EAGAIN (no process slot left; ulimit -u)`, {
          resource: 'processes',
        });
      }
      throw new ServerError('SPAWN_FAILED', `could not start ${launch.file}: ${err.code ?? err.message}`, {
        errno: err.code ?? null,
      });
    }
  }

  /**
   * A record or journal entry of this backend: kill its cgroup (when it had one), else its process group (if the
   * pgid still names it: start time checked) and every process carrying its execution-id marker.
   */
  async recover(description: HandleDescription, graceMs: number): Promise<RecoveryResult> {
    if (description.backend !== this.name) return { killed: false };
    const num = (v: unknown) => (typeof v === 'number' ? v : null);
    const n = await recoverOrphans(
      {
        executionId: typeof description.executionId === 'string' ? description.executionId : '',
        cgroup: typeof description.cgroup === 'string' ? description.cgroup : null,
        pgid: description.pgid,
        pgidStartTicks: num(description.startTicks),
        sinceTicks: num(description.sinceTicks),
      },
      graceMs,
      this.containment.tree ?? undefined,
    );
    return { killed: n > 0 };
  }

  /** Kill and remove what dead predecessors on this data dir left in their cgroups (ids of those that had processes). */
  async sweep(graceMs: number): Promise<{ leftovers: string[]; killed: string[] }> {
    const found = (await this.containment.tree?.recoverLeftovers(graceMs)) ?? [];
    return { leftovers: found.map((l) => l.executionId), killed: found.filter((l) => l.hadMembers).map((l) => l.executionId) };
  }

  /** Synchronous last resort (process 'exit'): SIGKILL every execution cgroup of this server. */
  killAllNow(): void {
    this.containment.tree?.killAllNow();
  }

  async close(): Promise<void> {
    await this.forkServer?.close();
    await this.containment.tree?.close();
  }

  /** A null value (set by a preExecute hook) removes the variable. */
  private buildEnv(extra: Record<string, string | null> | undefined): Record<string, string> {
    this.baseEnv ??= baseChildEnv(this.passesEnv);
    const env = { ...this.baseEnv };
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
