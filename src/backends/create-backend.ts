// Builds the execution backend named in the config; the engine depends on nothing else of it.
import type { Config } from '../config.js';
import { envPasses } from '../policy/command-policy.js';
import type { ExecutionBackend } from './backend.js';
import type { SandboxTools } from './local/bubblewrap-probe.js';
import { LocalBackend } from './local/local-backend.js';
import { createSandboxWrapper } from './local/sandbox-wrapper.js';

export interface BackendExtras {
  /** bubblewrap and env, found and proven at start (probeBubblewrap) when config.sandbox is not "off". */
  sandbox?: SandboxTools;
}

/** The backend `config.backend` names, set up from the config (shell, env policy, sandbox). A new backend is one more case. */
export function createBackend(config: Config, extras: BackendExtras = {}): ExecutionBackend {
  switch (config.backend) {
    case 'local': {
      const sandboxEnv = envPasses({ envPolicy: 'allowlist', envAllowlist: config.envAllowlist });
      return new LocalBackend({
        shell: config.shell,
        passesEnv: envPasses(config),
        ...(extras.sandbox ? { wrappers: [createSandboxWrapper(extras.sandbox, sandboxEnv)], capabilities: { sandbox: true } } : {}),
      });
    }
  }
}
