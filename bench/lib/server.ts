// Starts the real cc-executor server (dist/src/main.js) as a separate process and reads its URL from its log.
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildSet } from './children.js';

const START_TIMEOUT_MS = 20_000;

export interface ServerProcess {
  url: string;
  pid: number;
  dataDir: string;
  /** ms from spawn to the "listening" log line. */
  startMs: number;
  child: ChildProcess;
  /** Last lines the server logged (for error messages). */
  recentLog(): string;
  /** Resolves with ms from spawn once the server logs a line matching `re` (rejects after `timeoutMs`). */
  waitForLog(re: RegExp, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

function splitArgs(raw: string | undefined): string[] {
  return (raw ?? '').split(/\s+/).filter((a) => a !== '');
}

/** The Node flags the bin's shebang passes (`#!/usr/bin/env -S node --flag...`): the bench runs what users run. */
export function shebangNodeFlags(mainJs: string): string[] {
  const first = readFileSync(mainJs, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env\s+-S\s+node\s+(.*)$/.exec(first);
  return m ? splitArgs(m[1]) : [];
}

/**
 * `node dist/src/main.js --port 0` at the default log level (info), as users run it. The bench keeps
 * reading its stderr, so the synchronous logger never blocks on a full pipe.
 * BENCH_SERVER_ARGS adds server flags (e.g. `--high-water-bytes 1048576`), BENCH_SERVER_NODE_FLAGS adds Node flags.
 */
export async function startServer(
  children: ChildSet,
  extraArgs: string[] = [],
  options: { dataDir?: string } = {},
): Promise<ServerProcess> {
  const main = fileURLToPath(new URL('../../src/main.js', import.meta.url));
  // A fresh data directory per server unless one is given: no records or history from earlier runs, and
  // nothing left behind (a given directory is the caller's to remove).
  mkdirSync('tmp/bench', { recursive: true });
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync('tmp/bench/data-');
  // BENCH_NO_SHEBANG_FLAGS=1 runs the server without the bin's Node flags (to measure what they buy).
  const shebang = process.env.BENCH_NO_SHEBANG_FLAGS === '1' ? [] : shebangNodeFlags(main);
  const args = [
    ...shebang,
    ...splitArgs(process.env.BENCH_SERVER_NODE_FLAGS),
    main,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    ...splitArgs(process.env.BENCH_SERVER_ARGS),
    ...extraArgs,
  ];
  const t0 = performance.now();
  // BENCH_SERVER_STDOUT keeps the server's stdout in a file: where V8's --trace-gc and similar flags write.
  const stdoutPath = process.env.BENCH_SERVER_STDOUT;
  const stdout = stdoutPath ? openSync(stdoutPath, 'a') : 'ignore';
  const child = children.spawn(process.execPath, args, { stdio: ['ignore', stdout, 'pipe'] });
  if (typeof stdout === 'number') closeSync(stdout);
  const lines: string[] = [];
  const recentLog = () => lines.slice(-20).join('\n');
  // Lines matched by waitForLog: the first time each pattern appeared (ms from spawn).
  const watchers = new Set<{ re: RegExp; resolve: (ms: number) => void }>();
  const seen: Array<{ line: string; ms: number }> = [];

  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start within ${START_TIMEOUT_MS} ms:\n${recentLog()}`)),
      START_TIMEOUT_MS,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before listening:\n${recentLog()}`));
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 200) lines.splice(0, 100);
      const ms = performance.now() - t0;
      if (seen.length < 100) seen.push({ line, ms });
      for (const w of watchers) {
        if (w.re.test(line)) {
          watchers.delete(w);
          w.resolve(ms);
        }
      }
      const m = /listening on (ws:\/\/\S+?)["\s]/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  let url: string;
  try {
    url = await listening;
  } catch (e) {
    await children.stop(child);
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const startMs = performance.now() - t0;
  return {
    url,
    pid: child.pid!,
    dataDir,
    startMs,
    child,
    recentLog,
    waitForLog(re, timeoutMs) {
      const already = seen.find((l) => re.test(l.line));
      if (already) return Promise.resolve(already.ms);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(w);
          reject(new Error(`no log line matching ${re} within ${timeoutMs} ms:\n${recentLog()}`));
        }, timeoutMs);
        const w = {
          re,
          resolve: (ms: number) => {
            clearTimeout(timer);
            resolve(ms);
          },
        };
        watchers.add(w);
      });
    },
    async stop() {
      await children.stop(child);
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
