// The environment a local child starts from: the server's own, secrets withheld, non-interactive defaults.

/** Defaults that keep a child from ever waiting on a terminal. The request's env wins over them. */
export const NON_INTERACTIVE_ENV: Readonly<Record<string, string>> = {
  PAGER: 'cat',
  GIT_PAGER: 'cat',
  MANPAGER: 'cat',
  SYSTEMD_PAGER: 'cat',
  GIT_EDITOR: 'true',
  EDITOR: 'true',
  VISUAL: 'true',
  GIT_TERMINAL_PROMPT: '0',
  DEBIAN_FRONTEND: 'noninteractive',
};

/** Server variables never passed to children. */
const WITHHELD_ENV = ['CC_EXECUTOR_TOKEN', 'CC_EXECUTOR_AUTH_TOKEN'];

/**
 * The environment every child (and hook) starts from: the server's, secrets withheld, non-interactive defaults.
 * `passes` filters the server's variables (the env policy).
 */
export function baseChildEnv(passes: (name: string) => boolean = () => true): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !WITHHELD_ENV.includes(k) && passes(k)) env[k] = v;
  return Object.assign(env, NON_INTERACTIVE_ENV);
}
