// Decides whether an execution is sandboxed and with what settings: the server's, tightened (never loosened) by the request.
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { realpathSync } from 'node:fs';
import type { SandboxSpec } from '../backends/backend.js';
import type { Config } from '../config.js';
import { ServerError } from '../errors.js';

export type SandboxMode = Config['sandbox'];
export type SandboxNetwork = Config['sandboxNetwork'];

/** What a request may say: `true`/`false`, or settings that can only tighten the server's. */
export type SandboxRequest = boolean | { network?: SandboxNetwork | undefined; writableRoots?: string[] | undefined } | undefined;

/** The server's sandbox settings, from config. */
export interface SandboxSettings {
  mode: SandboxMode;
  network: SandboxNetwork;
  /** As configured: relative entries resolve against each execution's cwd. */
  writableRoots: readonly string[];
  /** Absolute paths (~ already expanded), the data dir and the config file included. */
  hide: readonly string[];
}

/** Expand a leading `~` against `home`. */
function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** The realpath when the path exists (symlinks out of a root must not widen it), else the resolved path. */
function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function isInside(path: string, root: string): boolean {
  return path === root || root === sep || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The server's settings from config: `~` expanded against the server's HOME, the data dir and the config file
 * (which hold every execution's output and maybe the token) always hidden, whatever sandboxHide says.
 */
export function sandboxSettings(config: Config, configFile?: string, home: string = homedir()): SandboxSettings {
  const hide = config.sandboxHide.map((p) => resolve(expandHome(p, home)));
  hide.push(resolve(config.dataDir));
  if (configFile !== undefined) hide.push(resolve(configFile));
  return {
    mode: config.sandbox,
    network: config.sandboxNetwork,
    writableRoots: config.sandboxWritableRoots.map((p) => expandHome(p, home)),
    hide: [...new Set(hide)],
  };
}

/**
 * The sandbox of one execution starting in the absolute directory `cwd`, or null for none.
 * Throws ServerError INVALID_INPUT (a sandbox asked of a server that runs none) or FORBIDDEN (opting out of
 * "always", or settings looser than the server's: host network, a writable root outside the server's, a cwd or
 * writable root inside a hidden path).
 */
export function resolveSandboxSpec(settings: SandboxSettings, request: SandboxRequest, cwd: string): SandboxSpec | null {
  const asked = request !== undefined && request !== false;
  if (settings.mode === 'off') {
    if (asked) throw new ServerError('INVALID_INPUT', 'this server runs no sandbox (config `sandbox` is "off"); leave `sandbox` out');
    return null;
  }
  if (settings.mode === 'always' && request === false) {
    throw new ServerError(
      'FORBIDDEN',
      'every execution on this server is sandboxed (config `sandbox` is "always"); a request cannot opt out',
      {
        policy: 'sandbox',
      },
    );
  }
  if (settings.mode === 'available' && !asked) return null;
  const wants = typeof request === 'object' ? request : {};

  const network = wants.network ?? settings.network;
  if (network === 'host' && settings.network === 'none') {
    throw new ServerError('FORBIDDEN', 'the server\'s sandbox has no network (sandboxNetwork "none"); a request may not ask for "host"', {
      policy: 'sandboxNetwork',
    });
  }

  const serverRoots = settings.writableRoots.map((r) => realOrResolved(resolve(cwd, r)));
  let writableRoots = serverRoots;
  if (wants.writableRoots !== undefined) {
    writableRoots = wants.writableRoots.map((r) => realOrResolved(resolve(cwd, r)));
    for (const root of writableRoots) {
      if (!serverRoots.some((s) => isInside(root, s))) {
        throw new ServerError('FORBIDDEN', `writable root ${root} is outside the server's sandboxWritableRoots`, {
          policy: 'sandboxWritableRoots',
          writableRoot: root,
        });
      }
    }
  }
  writableRoots = [...new Set(writableRoots)];

  const realCwd = realOrResolved(cwd);
  for (const hidden of settings.hide) {
    const realHidden = realOrResolved(hidden);
    for (const [what, path] of [['cwd', realCwd], ...writableRoots.map((r) => ['writable root', r] as const)] as const) {
      if (isInside(path, realHidden)) {
        throw new ServerError('FORBIDDEN', `${what} ${path} lies inside ${hidden}, which the sandbox hides`, {
          policy: 'sandboxHide',
          path,
        });
      }
    }
  }
  return { network, writableRoots, hide: [...settings.hide] };
}
