// Finds bubblewrap at start and proves it can build a sandbox here, or says in one line what to install or enable.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolveExecutable } from '../../policy/command-policy.js';

/** The programs a sandboxed launch runs through: bubblewrap, and GNU env to set signal dispositions around it. */
export interface SandboxTools {
  bwrap: string;
  env: string;
  /** Running as root: bwrap keeps every capability unless told to drop them. */
  asRoot: boolean;
  /** `bwrap --version`, for /health and the start log. */
  version: string;
}

export type BubblewrapProbe = { ok: true; tools: SandboxTools } | { ok: false; reason: string };

/** A probe may be slow on a loaded machine (it creates namespaces), but never hangs the start. */
const PROBE_TIMEOUT_MS = 15_000;

const INSTALL_HINT = 'install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)';

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Why user namespaces may be off here, from the kernel knobs that restrict them (unprivileged bwrap needs them). */
function userNamespaceHints(): string[] {
  const hints: string[] = [];
  if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    hints.push(
      "AppArmor restricts unprivileged user namespaces (Ubuntu 24.04's default): allow bwrap with an AppArmor profile " +
        '(/etc/apparmor.d/bwrap with `userns,`) or set kernel.apparmor_restrict_unprivileged_userns=0',
    );
  }
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
    hints.push('set kernel.unprivileged_userns_clone=1');
  }
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0') {
    hints.push('user.max_user_namespaces is 0: raise it');
  }
  return hints;
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}

/**
 * Look for `bwrap` and `env` on `pathVar` and run the smallest sandbox a launch would use (PID, network and IPC
 * namespaces, read-only root, signals ignored outside and reset inside) around `true`. Synchronous: it runs once,
 * at start, before the server accepts anything.
 */
export function probeBubblewrap(pathVar: string | undefined = process.env.PATH): BubblewrapProbe {
  const bwrap = resolveExecutable('bwrap', '/', pathVar);
  if (!bwrap) return { ok: false, reason: `bwrap is not on PATH: ${INSTALL_HINT}` };
  const env = resolveExecutable('env', '/', pathVar);
  if (!env) return { ok: false, reason: 'env (GNU coreutils) is not on PATH' };
  const asRoot = process.getuid?.() === 0;
  const version = spawnSync(bwrap.path, ['--version'], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  const args = [
    '--ignore-signal=TERM',
    bwrap.path,
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--unshare-pid',
    '--unshare-net',
    '--unshare-ipc',
    '--die-with-parent',
    ...(asRoot ? ['--cap-drop', 'ALL'] : []),
    '--',
    env.path,
    '--default-signal',
    '--',
    'true',
  ];
  const run = spawnSync(env.path, args, { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error) return { ok: false, reason: `bwrap could not run: ${run.error.message}` };
  if (run.status !== 0) {
    const said = firstLine(run.stderr) || `exit ${run.status ?? run.signal}`;
    const hints = asRoot ? [] : userNamespaceHints();
    const fix = hints.length > 0 ? hints.join('; ') : 'check that this kernel allows user, PID and network namespaces';
    return { ok: false, reason: `bwrap cannot create a sandbox here (${said}): ${fix}` };
  }
  return {
    ok: true,
    tools: { bwrap: bwrap.path, env: env.path, asRoot, version: firstLine(version.stdout ?? '') || 'bubblewrap' },
  };
}
