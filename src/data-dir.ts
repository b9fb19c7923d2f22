// Where records, output logs and duration history live when no dataDir is configured: the user's state directory.
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The default data directory: `$XDG_STATE_HOME/cc-executor`, else `~/.local/state/cc-executor` (the XDG Base
 * Directory rule for state: data that should survive a restart but is not worth backing up). Never relative to the
 * working directory: a server started by an MCP client inside the user's project must not write into it.
 * A relative XDG_STATE_HOME is invalid by the spec and ignored.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const state = env.XDG_STATE_HOME;
  if (state !== undefined && state !== '' && isAbsolute(state)) return join(state, 'cc-executor');
  return join(home, '.local', 'state', 'cc-executor');
}

/** An explicitly configured dataDir, made absolute once at start-up, so logs and records name one real place. */
export function resolveDataDir(dir: string, cwd: string = process.cwd()): string {
  return resolve(cwd, dir);
}
