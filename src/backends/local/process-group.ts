// Spawns one command in a new process group (node:child_process) and owns every signal sent to that group.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { listGroupMembers, readProcStat } from './proc.js';
import { withoutShellStartupFiles } from './shell-startup.js';
import { stopPolitely } from './stop-politely.js';

export interface SpawnSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Text written to stdin then closed; without it stdin is /dev/null, never inherited. */
  stdin?: string;
  /** Keep stdin open as a pipe (after `stdin` text, if any) for later writes. */
  interactive?: boolean;
}

export type LeaderExit = { exitCode: number | null; signal: NodeJS.Signals | null };

/** A leader just started in a new session (setsid), by this process or by the fork server: its pid, pipes and exit. */
export interface SpawnedChild {
  pid: number;
  stdout: Readable;
  stderr: Readable;
  /** The stdin pipe when one was asked for; null when stdin is /dev/null. */
  stdin: Writable | null;
  exit: Promise<LeaderExit>;
}

const POLL_MS = 20;
/** Members that outlive their leader are polled at most this far apart. */
const MAX_POLL_MS = 200;

export class ProcessGroup {
  readonly pid: number;
  /** The group id equals the leader's pid (`detached: true` calls setsid). */
  readonly pgid: number;
  /** The leader's pipes (and its exit). */
  readonly child: SpawnedChild;
  /** Resolves when the leader exits (its children may live on). */
  readonly leaderExit: Promise<LeaderExit>;
  /** Leader start time (clock ticks since boot): with the pgid it names this group even after a restart. */
  readonly startTicks: number | undefined;
  private gone = false;
  private leaderExited = false;
  /** Members seen in the group: pid -> start time. */
  private readonly known = new Map<number, number>();

  constructor(child: SpawnedChild) {
    this.child = child;
    this.pid = child.pid;
    this.pgid = child.pid;
    this.startTicks = readProcStat(this.pid)?.startTicks;
    if (this.startTicks !== undefined) this.known.set(this.pid, this.startTicks);
    this.leaderExit = new Promise((resolve) => {
      void child.exit.then((exit) => {
        resolve(exit);
        // Refresh who is in the group before the leader's pid can be handed out again, but a moment later: the
        // usual group is empty and kill(-pgid, 0) throws ESRCH, an exception that cost ~0.2 ms between the exit
        // and execute's answer (a setImmediate still ran before the answer). Until then the group counts as led
        // (every member found is ours): a pid is only handed out again after the kernel's pid counter wraps,
        // never within a millisecond.
        setTimeout(() => {
          if (this.leaderExited) return;
          this.members();
          this.leaderExited = true;
        }, 1);
      });
    });
  }

  /**
   * Start the command. Throws the spawn error (ENOENT, EACCES...) when the OS could not start it.
   * node:child_process directly, not execa: execa's option normalising, result promise and stream wrapping
   * cost about 1.5 ms of event-loop time per spawn (docs/performance.md, round trip), and nothing of it is
   * used here (no buffering, no timeout, no cleanup: with `detached` those would reach only the leader).
   * The fork and exec happen synchronously in this call, before its first await (the cgroup entry relies on it).
   */
  static async spawn(spec: SpawnSpec): Promise<ProcessGroup> {
    return new ProcessGroup(await spawnChild(spec));
  }

  /**
   * Live members of the group (leader included while it runs).
   *
   * Once the leader has exited its pid is free, and after the last member dies the pgid can name an
   * unrelated new group. So members found under our pgid count as ours only while one of them is a
   * process we saw in the group before (same pid and start time); the first scan that finds none of
   * them marks the group gone for good.
   */
  members(): number[] {
    if (this.gone) return [];
    // kill(-pgid, 0) first (microseconds): ESRCH means an empty group, with no /proc scan (a millisecond or
    // more per call, made at every leader exit and, for each exited execution, by prune, disconnect and
    // shutdown). It counts zombies and possible strangers as members, so a group that answers is scanned.
    if (!this.groupExists()) return [];
    const found = listGroupMembers(this.pgid);
    const ours = !this.leaderExited || found.some((m) => this.known.get(m.pid) === m.startTicks);
    if (found.length === 0 || !ours) {
      this.gone = true;
      return [];
    }
    for (const m of found) this.known.set(m.pid, m.startTicks);
    return found.map((m) => m.pid);
  }

  /** False once kill(-pgid, 0) says ESRCH (no process, not even a zombie); EPERM still means someone is there. */
  private groupExists(): boolean {
    try {
      process.kill(-this.pgid, 0);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') return true;
      this.gone = true;
      return false;
    }
  }

  isAlive(): boolean {
    return this.members().length > 0;
  }

  /**
   * Send a signal to every member of the group. Returns false when the group is gone.
   * A pgid can only be reused once its group is empty; from the first ESRCH, or the first scan that
   * finds no member we know, we never signal it again.
   */
  signal(sig: NodeJS.Signals | number): boolean {
    if (this.gone) return false;
    // While the leader runs (unreaped) its pid cannot be reused, so the pgid is surely ours.
    if (this.leaderExited && this.members().length === 0) return false;
    try {
      process.kill(-this.pgid, sig);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') {
        this.gone = true;
        return false;
      }
      throw e;
    }
  }

  /**
   * Resolves true once no member is left, false if `timeoutMs` passes first.
   * While the leader runs, its exit event is awaited (no /proc scan at all: with a scan per group per
   * poll, 1,000 groups shutting down cost a million /proc reads per round). After it, kill(-pgid, 0)
   * settles the usual case at once; only members that outlive the leader are polled, less often as they linger.
   */
  async waitGone(timeoutMs = Infinity): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    if (!this.leaderExited) {
      if (!(await this.leaderExitWithin(timeoutMs))) return false;
    }
    let pollMs = POLL_MS;
    while (this.isAlive()) {
      const left = until - Date.now();
      if (left <= 0) return false;
      await delay(Math.min(pollMs, left));
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
    }
    return true;
  }

  /** True once the leader has exited, false if `timeoutMs` passes first (its timer is cleared either way). */
  private async leaderExitWithin(timeoutMs: number): Promise<boolean> {
    if (!Number.isFinite(timeoutMs)) {
      await this.leaderExit;
      return true;
    }
    // A plain timer, not an AbortSignal: aborting one builds a DOMException, which costs real time
    // when a thousand groups stop at once.
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.leaderExit.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs)))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * SIGTERM (plus SIGCONT so stopped members can act on it), wait `graceMs`, then SIGKILL.
   * Resolves true once the group is gone, false if members survived even SIGKILL for 5 s.
   */
  terminate(graceMs: number): Promise<boolean> {
    return stopPolitely(this, graceMs);
  }

  /** SIGKILL the whole group at once (synchronous: safe in an `exit` handler). */
  kill(): void {
    this.signal('SIGKILL');
  }
}

/** Whether a spec needs a stdin pipe: for text to write, or to stay open (interactive). */
export function wantsStdinPipe(spec: SpawnSpec): boolean {
  return spec.interactive === true || spec.stdin !== undefined;
}

/**
 * Write a spec's stdin text to a just-started child and close its stdin unless it is interactive. A write
 * after the child exits fails with EPIPE, which is no crash.
 */
export function feedStdin(stdin: Writable | null, spec: SpawnSpec): void {
  if (!stdin) return;
  stdin.on('error', () => undefined);
  if (spec.stdin !== undefined && spec.stdin !== '') stdin.write(spec.stdin);
  // Text only: stdin is closed after it (an interactive one stays open for later writes).
  if (!spec.interactive) stdin.end();
}

/** Start a leader from this process (node:child_process): the fork and exec happen in the call, synchronously. */
async function spawnChild(spec: SpawnSpec): Promise<SpawnedChild> {
  const subprocess = spawn(spec.file, spec.args, {
    cwd: spec.cwd,
    // Piped stdin is a socket pair: keep Debian's bash from taking that for sshd and running ~/.bashrc.
    env: withoutShellStartupFiles(spec.env),
    detached: true,
    stdio: [wantsStdinPipe(spec) ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const pid = subprocess.pid;
  if (pid === undefined) {
    // The OS refused (ENOENT, EACCES, EAGAIN...): Node reports it as an 'error' event on the next tick.
    throw await new Promise<Error>((resolve) => subprocess.once('error', resolve));
  }
  // After a successful spawn 'error' means a failed kill() or a lost IPC channel: neither may crash the server.
  subprocess.on('error', () => undefined);
  feedStdin(subprocess.stdin, spec);
  const exit = new Promise<LeaderExit>((resolve) => subprocess.once('exit', (exitCode, signal) => resolve({ exitCode, signal })));
  return { pid, stdout: subprocess.stdout!, stderr: subprocess.stderr!, stdin: subprocess.stdin, exit };
}
