// The local backend's sandbox plug-in: launches whose plan carries a SandboxSpec run inside bubblewrap.
import { accessSync, constants } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ServerError } from '../../errors.js';
import type { Launch } from '../backend.js';
import type { SandboxTools } from './bubblewrap-probe.js';
import { NON_INTERACTIVE_ENV } from './child-env.js';
import type { LaunchWrapper } from './local-backend.js';
import { sandboxLaunch } from './sandbox-launch.js';
import { SandboxHandle } from './sandbox-handle.js';

/**
 * The program of an argv launch must exist before it is hidden behind `env ... bwrap ... env`: otherwise a typo
 * would be exit 127 from inside the sandbox instead of the SPAWN_FAILED every other launch gets.
 */
function checkProgram(launch: Launch): void {
  const file = launch.file;
  const candidates = file.includes('/')
    ? [isAbsolute(file) ? file : resolve(launch.cwd, file)]
    : (launch.env.PATH ?? '')
        .split(':')
        .filter((d) => d !== '')
        .map((d) => join(resolve(launch.cwd, d), file));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return;
    } catch {
      continue;
    }
  }
  throw new ServerError('SPAWN_FAILED', `could not start ${file}: ENOENT`, { errno: 'ENOENT' });
}

/**
 * A launch wrapper that runs sandboxed plans through bubblewrap (others pass untouched), and decorates their
 * handles so signals, pause and kill reach the whole PID namespace. `allowEnv` says which of the server's
 * variables enter a sandbox (envAllowlist, whatever envPolicy says); the request's own always do, and TMPDIR only
 * when the request sets it (the server's may name a directory the sandbox cannot write: /tmp is private and
 * writable).
 */
export function createSandboxWrapper(tools: SandboxTools, allowEnv: (name: string) => boolean): LaunchWrapper {
  const keepEnv = (name: string) => name !== 'TMPDIR' && (allowEnv(name) || Object.hasOwn(NON_INTERACTIVE_ENV, name));
  return {
    name: 'sandbox',
    wrap(launch) {
      const spec = launch.plan.sandbox;
      if (!spec) return launch;
      checkProgram(launch);
      return sandboxLaunch(launch, spec, { tools, keepEnv });
    },
    wrapHandle(handle, launch) {
      const spec = launch.plan.sandbox;
      if (!spec) return handle;
      // A cgroup already holds (and signals, freezes) every process in the sandbox; a process group does not.
      return new SandboxHandle(handle, spec, { reachEscapees: handle.describe().containment !== 'cgroup' });
    },
  };
}
