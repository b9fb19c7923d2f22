// Builds the execution backend named in the config; the engine depends on nothing else of it.
import type { Config } from '../config.js';
import { envPasses } from '../policy/command-policy.js';
import type { ExecutionBackend } from './backend.js';
import { LocalBackend } from './local/local-backend.js';

/** The backend `config.backend` names, set up from the config (shell, env policy). A new backend is one more case. */
export function createBackend(config: Config): ExecutionBackend {
  switch (config.backend) {
    case 'local':
      return new LocalBackend({ shell: config.shell, passesEnv: envPasses(config) });
  }
}
