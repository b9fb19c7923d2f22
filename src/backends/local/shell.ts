// Which shell runs `command` strings on this machine: the configured one if executable, else /bin/sh.
import { accessSync, constants } from 'node:fs';

/** The configured shell when it is executable here, otherwise /bin/sh. */
export function resolveShell(preferred: string): string {
  for (const candidate of [preferred, '/bin/sh']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the fallback
    }
  }
  return '/bin/sh';
}
