// Runs the real built server binary as a child process and finds its URL in the log on stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN_JS = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL the server if it is still running (test cleanup). */
  kill(): void;
}

/**
 * Runs the binary; without --data-dir in `args`, records go to a fresh temp directory. `wrapper` runs it
 * under another program that execs it (e.g. `['prlimit', '--nofile=256:256']`): the child is then the server.
 */
export async function spawnServer(
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  opts: { wrapper?: string[] } = {},
): Promise<ServerProcess> {
  const ownDir = args.includes('--data-dir') ? undefined : mkdtempSync(join(tmpdir(), 'cc-executor-srv-'));
  const [file, ...pre] = [...(opts.wrapper ?? []), process.execPath];
  const child = spawn(file, [...pre, MAIN_JS, '--port', '0', ...(ownDir ? ['--data-dir', ownDir] : []), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // the caller never gets a handle to stop it
      reject(new Error(`server did not start: ${stderr}`));
    }, 30_000); // generous: node's own startup takes seconds on a loaded 2-core machine
    child.stderr.on('data', (d) => {
      stderr += String(d);
      const m = /listening on (ws:\/\/\S+?)"/.exec(stderr) ?? /listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then(() => reject(new Error(`server exited early: ${stderr}`)));
  });
  return {
    child,
    url,
    stderr: () => stderr,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
