// Finds the program a launch will exec, as execvp would: relative to the launch's cwd, searched in its PATH.
import { accessSync, constants, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The absolute path of `file` as execvp would find it for a process in `cwd`: a name with a slash is taken
 * relative to `cwd` (`./gradlew`), a bare name is searched in `path` (whose relative and empty entries are
 * relative to `cwd` too). A directory or a file without execute permission is EACCES, a missing one ENOENT:
 * throws an errno-style error with that `code`, the one spawn would give.
 */
export function findExecutable(file: string, path: string, cwd: string): string {
  const candidates = file.includes('/')
    ? [resolve(cwd, file)]
    : path.split(':').map((dir) => join(resolve(cwd, dir === '' ? '.' : dir), file));
  let code = 'ENOENT';
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) {
        code = 'EACCES'; // execve refuses a directory with EACCES
        continue;
      }
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') code = 'EACCES';
    }
  }
  const err: NodeJS.ErrnoException = new Error(`${code}: ${file}`);
  err.code = code;
  throw err;
}
