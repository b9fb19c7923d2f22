// Builds the execution backend named in the config; the engine depends on nothing else of it.
import type { Config } from '../config.js';
import { ServerError } from '../errors.js';
import { envPasses } from '../policy/command-policy.js';
import type { ExecutionBackend } from './backend.js';
import { chooseContainment, configLimits, ContainmentUnavailableError, mergeLimits } from './local/containment.js';
import { LocalBackend } from './local/local-backend.js';

/**
 * The backend `config.backend` names, set up from the config (shell, env policy, containment, limits). A new
 * backend is one more case. Throws ContainmentUnavailableError (one line, the server must not start) when the
 * config asks for containment or limits this machine cannot give.
 */
export function createBackend(config: Config): ExecutionBackend {
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
      return new LocalBackend({ shell: config.shell, passesEnv: envPasses(config), containment, limits });
    }
  }
}
