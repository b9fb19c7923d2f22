// Turns a local launch and its SandboxSpec into the same launch run inside bubblewrap.
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import { constants } from 'node:os';
import type { Launch, SandboxSpec } from '../backend.js';
import type { SandboxTools } from './bubblewrap-probe.js';

/**
 * Signals the outer bwrap ignores (the dispositions survive its exec). Whatever we send to the command's group or
 * cgroup reaches bwrap too, and bwrap dies of it by default; its sandbox then dies with it (--die-with-parent)
 * before the command could act on a SIGTERM or SIGINT. Ignored, bwrap waits and reports the command's exit.
 * SIGCHLD stays as it is (bwrap waits for its child through it); SIGKILL and SIGSTOP cannot be ignored.
 */
export const BWRAP_IGNORED_SIGNALS: readonly string[] = Object.keys(constants.signals)
  .filter((s) => !['SIGKILL', 'SIGSTOP', 'SIGCHLD', 'SIGCONT', 'SIGWINCH', 'SIGURG', 'SIGIOT', 'SIGPOLL', 'SIGUNUSED'].includes(s))
  .map((s) => s.slice(3));

/** What the sandbox may see of a path on the host. */
type PathKind = 'dir' | 'other' | 'missing';

function kindOf(path: string): PathKind {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}

/** The real path, or undefined when it does not exist (nothing to bind or to hide). */
function realOrNothing(path: string): string | undefined {
  try {
    lstatSync(path);
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** True when `path` is `root` or lies under it. */
export function isInsidePath(path: string, root: string): boolean {
  return path === root || root === sep || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Options for {@link sandboxLaunch}. */
export interface SandboxLaunchOptions {
  tools: SandboxTools;
  /** Which variables of the launch's environment enter the sandbox (the request's own always do). */
  keepEnv: (name: string) => boolean;
}

/**
 * The bwrap options for one spec: the host read-only, writable roots bound read-write, a private /tmp, a minimal
 * /dev, the /proc of a PID namespace of its own, hidden paths replaced (empty read-only tmpfs over a directory,
 * /dev/null over a file), no network but loopback for "none".
 *
 * Deliberately without --new-session: the command keeps the session (and so the process group and, on a PTY, the
 * controlling terminal) the local handle gave bwrap, so group signals, pause and job control reach it. The
 * TIOCSTI injection --new-session guards against needs a terminal shared with someone else; a sandboxed command
 * has none (pipes) or its own PTY.
 */
export function bwrapOptions(spec: SandboxSpec, cwd: string, tools: SandboxTools): string[] {
  const args = [
    // Tied to the server: a crash of the server takes every sandbox with it (background executions outlive a
    // session, never the server).
    '--die-with-parent',
    '--unshare-pid',
    '--unshare-ipc',
    ...(spec.network === 'none' ? ['--unshare-net'] : []),
    // As root bwrap keeps every capability, and CAP_SYS_ADMIN could remount the root read-write.
    ...(tools.asRoot ? ['--cap-drop', 'ALL'] : []),
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
  ];
  // After the private /tmp, so that a writable root under /tmp is the host's directory again.
  for (const root of spec.writableRoots) {
    const real = realOrNothing(root);
    if (real !== undefined && kindOf(real) === 'dir') args.push('--bind', real, real);
  }
  // Last, so that a hidden path inside a writable root (the data dir under the cwd) is hidden too.
  for (const hidden of spec.hide) {
    const real = realOrNothing(hidden);
    if (real === undefined) continue;
    if (kindOf(real) === 'dir') args.push('--tmpfs', real, '--remount-ro', real);
    else args.push('--ro-bind', '/dev/null', real);
  }
  args.push('--chdir', cwd);
  return args;
}

/**
 * The launch, run inside bubblewrap: `env --ignore-signal=... bwrap OPTIONS -- env --default-signal -- FILE ARGS`.
 * The inner env restores default signal handling (ignored dispositions are inherited through bwrap), so the
 * command reacts to signals exactly as it would outside. The environment keeps only `keepEnv` names and the
 * variables the request set.
 */
export function sandboxLaunch(launch: Launch, spec: SandboxSpec, options: SandboxLaunchOptions): Launch {
  const { tools } = options;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(launch.env)) {
    if (options.keepEnv(k) || Object.hasOwn(launch.plan.env, k)) env[k] = v;
  }
  return {
    ...launch,
    file: tools.env,
    args: [
      `--ignore-signal=${BWRAP_IGNORED_SIGNALS.join(',')}`,
      tools.bwrap,
      ...bwrapOptions(spec, launch.cwd, tools),
      '--',
      tools.env,
      '--default-signal',
      '--',
      launch.file,
      ...launch.args,
    ],
    env,
  };
}
