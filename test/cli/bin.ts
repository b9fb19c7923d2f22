// Runs the real built `cc-executor` bin as a client in a child process and collects its exact stdout/stderr bytes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/server.js';

export const MAIN_JS = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));
export const WRITE_BYTES = fileURLToPath(new URL('../fixtures/write-bytes.mjs', import.meta.url));

if (!existsSync(fileURLToPath(new URL('../../dist/src/cli/index.js', import.meta.url)))) {
  throw new Error('dist/src/cli is missing: run `npm run build` first (npm test does)');
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): Buffer;
  stderr(): Buffer;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout contains `text`. */
  waitForStdout(text: string, timeoutMs?: number): Promise<void>;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

const live = new Set<ChildProcess>();

export interface CliOptions {
  url?: string;
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  /** Keep the client's stdin an open pipe (`child.stdin`) for the test to write to. */
  openStdin?: boolean;
  cwd?: string;
  /** Run this program instead of `node main.js` (args are then ignored), e.g. `script` for a terminal. */
  command?: string[];
}

/** Start `node dist/src/main.js ...args`; CC_EXECUTOR_URL points at `url`. */
export function spawnCli(args: string[], opts: CliOptions = {}): CliProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.CC_EXECUTOR_TOKEN;
  delete env.CC_EXECUTOR_URL;
  Object.assign(env, opts.env);
  if (opts.url !== undefined) env.CC_EXECUTOR_URL = opts.url;
  const [file, ...argv] = opts.command ?? [process.execPath, MAIN_JS, ...args];
  const child = spawn(file!, argv, {
    env,
    cwd: opts.cwd ?? process.cwd(),
    stdio: [opts.stdin === undefined && opts.openStdin !== true ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  if (opts.stdin !== undefined) {
    // A client that exits before reading it (a usage error) must fail on its exit status, not on EPIPE here.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.stdin);
  }
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': every byte of both pipes is in by then.
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err),
    exited,
    waitForStdout: (text, timeoutMs = 15_000) =>
      waitFor(
        () => Buffer.concat(out).includes(text),
        timeoutMs,
        `stdout to contain ${JSON.stringify(text)}; stderr: ${Buffer.concat(err).toString()}`,
      ),
  };
}

/** Run the bin to its end. */
export async function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const p = spawnCli(args, opts);
  const { code, signal } = await p.exited;
  return { code, signal, stdout: p.stdout(), stderr: p.stderr() };
}

/** Test cleanup: no client process outlives its test. */
export function killClients(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
  live.clear();
}

/** The `write-bytes` fixture as an argv for `run --argv`. */
export function writeBytesArgv(...steps: string[]): string[] {
  return [process.execPath, WRITE_BYTES, ...steps];
}

export const hex = (s: string | Buffer): string => Buffer.from(s).toString('hex');
