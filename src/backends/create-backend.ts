// Builds the execution backend named in the config; the engine depends on nothing else of it.
import type { Config } from '../config.js';
import { ServerError } from '../errors.js';
import { envPasses } from '../policy/command-policy.js';
import type { ExecutionBackend } from './backend.js';
import type { SandboxTools } from './local/bubblewrap-probe.js';
import { chooseContainment, configLimits, ContainmentUnavailableError, mergeLimits } from './local/containment.js';
import { LocalBackend } from './local/local-backend.js';
import { createSandboxWrapper } from './local/sandbox-wrapper.js';

export interface BackendExtras {
  /** bubblewrap and env, found and proven at start (probeBubblewrap) when config.sandbox is not "off". */
  sandbox?: SandboxTools;
}

/**
 * The backend `config.backend` names, set up from the config (shell, env policy, containment, limits, sandbox). A
 * new backend is one more case. Throws ContainmentUnavailableError (one line, the server must not start) when the
 * config asks for containment or limits this machine cannot give.
 */
export function createBackend(config: Config, extras: BackendExtras = {}): ExecutionBackend {
  switch (config.backend) {
    case 'local': {
      const containment = chooseContainment(config.containment, config.dataDir);
      const limits = configLimits(config);
      try {
        mergeLimits(limits, undefined, containment);
      } catch (e) {
        void containment.tree?.close();
        throw new ContainmentUnavailableError(`configured limits cannot be enforced: ${e instanceof ServerError ? e.message : String(e)}`);
      }
      const sandboxEnv = envPasses({ envPolicy: 'allowlist', envAllowlist: config.envAllowlist });
      // The sandbox wrapper is applied first; the cgroup entry (added by the backend) wraps it, outermost.
      return new LocalBackend({
        shell: config.shell,
        forkServer: config.forkServer,
        passesEnv: envPasses(config),
        containment,
        limits,
        ...(extras.sandbox ? { wrappers: [createSandboxWrapper(extras.sandbox, sandboxEnv)], capabilities: { sandbox: true } } : {}),
      });
    }
  }
}
