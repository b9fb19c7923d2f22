// One hook process: own process group, JSON on stdin, bounded stdout/stderr capture, group killed at its timeout.
import type { Readable } from 'node:stream';
import type { ProcessHandle } from '../backends/backend.js';

/** What a hook process is started from. */
export interface HookSpawnSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: string;
}

/**
 * Starts a hook on the server's machine in its own process group with pipes (the local backend's helper,
 * injected by the engine). Throws the OS error (ENOENT, EACCES...) when it cannot start.
 */
export type HookSpawner = (spec: HookSpawnSpec) => Promise<ProcessHandle>;

/** After the hook's leader exits, how long its pipes may stay open (children flushing) before the group is cut. */
const LINGER_MS = 500;

/** Keeps the first `limitBytes` of a stream and counts the rest: a hook that floods output costs no memory. */
export class HeadCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  bytes = 0;

  constructor(readonly limitBytes: number) {}

  push(buf: Buffer): void {
    this.bytes += buf.length;
    if (this.kept >= this.limitBytes) return;
    // Copy: a subarray would pin the whole (up to 64 KiB) read buffer.
    const part = Buffer.from(buf.subarray(0, this.limitBytes - this.kept));
    this.chunks.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.bytes > this.kept;
  }

  /** The kept head (at most `maxBytes` of it) as UTF-8; a character cut at the end becomes U+FFFD. */
  text(maxBytes = this.limitBytes): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(0, maxBytes).toString('utf8');
  }
}

export interface HookProcessSpec extends HookSpawnSpec {
  spawn: HookSpawner;
  timeoutMs: number;
  /** SIGTERM -> SIGKILL grace when the hook is stopped. */
  graceMs: number;
  stdoutLimitBytes: number;
  stderrLimitBytes: number;
  /** Aborting any of these stops the hook like a timeout would (request cancelled, server shutting down). */
  signals?: AbortSignal[];
  /** Called with the handle right after spawn (live) and once it is gone (for last-resort kills). */
  track?: (handle: ProcessHandle, live: boolean) => void;
}

export interface HookProcessResult {
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  /** Set when the OS could not start the hook (ENOENT, EACCES...). */
  spawnError: string | null;
  startedAt: Date;
  durationMs: number;
  stdout: HeadCapture;
  stderr: HeadCapture;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function closedPromise(pipe: Readable | null): Promise<void> {
  if (!pipe) return Promise.resolve();
  return new Promise((resolve) => {
    pipe.once('close', resolve);
    pipe.on('error', () => undefined); // 'close' follows
  });
}

/** Run one hook to its end. Never throws and never outlives `timeoutMs` + grace: every path kills the group. */
export async function runHookProcess(spec: HookProcessSpec): Promise<HookProcessResult> {
  const startedAt = new Date();
  const stdout = new HeadCapture(spec.stdoutLimitBytes);
  const stderr = new HeadCapture(spec.stderrLimitBytes);
  const result = (fields: Partial<HookProcessResult>): HookProcessResult => ({
    pid: null,
    exitCode: null,
    signal: null,
    timedOut: false,
    aborted: false,
    spawnError: null,
    startedAt,
    durationMs: Date.now() - startedAt.getTime(),
    stdout,
    stderr,
    ...fields,
  });
  if (spec.signals?.some((s) => s.aborted)) return result({ aborted: true });

  let handle: ProcessHandle;
  try {
    handle = await spec.spawn({ file: spec.file, args: spec.args, cwd: spec.cwd, env: spec.env, stdin: spec.stdin });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return result({ spawnError: `could not start ${spec.file}: ${err.code ?? err.message}` });
  }
  spec.track?.(handle, true);
  try {
    const out = handle.stdout;
    const err = handle.stderr;
    out?.on('data', (b: Buffer) => stdout.push(b));
    err?.on('data', (b: Buffer) => stderr.push(b));
    const closed = Promise.all([closedPromise(out), closedPromise(err)]);

    // One controller tears down the timer and the abort listener, whatever ends the wait.
    const ac = new AbortController();
    let stop = null as 'timeout' | 'abort' | null; // (cast: assigned in callbacks, TS would narrow to null)
    const stopped = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stop ??= 'timeout';
        resolve();
      }, spec.timeoutMs);
      ac.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
      const onAbort = () => {
        stop ??= 'abort';
        resolve();
      };
      // (no AbortSignal.any: its dependants pile up on a long-lived signal in some Node versions)
      for (const s of spec.signals ?? []) s.addEventListener('abort', onAbort, { once: true, signal: ac.signal });
    });

    await Promise.race([handle.exit, stopped]);
    const endedBy = stop; // null: the leader exited on its own
    // The leader is done: give children a moment to flush and close the pipes, within the hook's timeout.
    if (endedBy === null) await Promise.race([closed, stopped, sleep(LINGER_MS)]);
    ac.abort();
    // Timed out, cancelled, or members left behind: the hook's group never outlives the hook.
    if (handle.isAlive()) await handle.terminate(spec.graceMs);
    // A pipe held by a process outside the group (setsid'd) would never close: cut it.
    await Promise.race([closed, sleep(50)]);
    out?.destroy();
    err?.destroy();
    const exit = await Promise.race([handle.exit, sleep(1_000).then(() => null)]);
    return result({
      pid: handle.describe().pid,
      exitCode: exit?.exitCode ?? null,
      signal: exit?.signal ?? null,
      timedOut: endedBy === 'timeout',
      aborted: endedBy === 'abort',
    });
  } finally {
    spec.track?.(handle, false);
  }
}
