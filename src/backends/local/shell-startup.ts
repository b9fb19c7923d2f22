// Keeps bash from running startup files (~/.bashrc) for the non-interactive commands and hooks we spawn.

/**
 * The environment with SHLVL at least 1. Node gives a child's piped stdin as a socket pair, and Debian's
 * bash (built with SSH_SOURCE_BASHRC) runs ~/.bashrc for `bash -c` when stdin is a socket and its own level
 * (SHLVL + 1) is below 2, taking itself for a command run by sshd. A server started by systemd, Docker,
 * cron or setsid has no SHLVL, so every command or hook given stdin would run the user's ~/.bashrc (slow,
 * and its output lands in the command's). SHLVL=1 says "started from a shell", which stops that and
 * nothing else. A request's SHLVL below 1 is raised too: no child may read a startup file by accident.
 */
export function withoutShellStartupFiles(env: Record<string, string>): Record<string, string> {
  const level = Number.parseInt(env.SHLVL ?? '', 10);
  if (Number.isInteger(level) && level >= 1) return env;
  return { ...env, SHLVL: '1' };
}
