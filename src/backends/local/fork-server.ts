// The server's side of the fork server (fork-server-main.ts): starts it, asks it to spawn, gets the pipes back.
import { fork, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LeaderExit, SpawnedChild } from './process-group.js';

/**
 * The fork server's script: beside this file once built. Run from the TypeScript sources (vitest), the built one
 * (`npm test` builds first): it is plain Node with no loader, which keeps it small.
 */
function mainScript(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'fork-server-main.js');
  return resolve(dirname(here), '../../../dist/src/backends/local/fork-server-main.js');
}

/**
 * V8 flags of the fork server: a young generation of 1 MiB keeps its anonymous memory (what a fork copies) at
 * about 10 MiB. None of the server's own flags (--inspect, --cpu-prof, a bigger semi-space) are passed on.
 */
const EXEC_ARGV = ['--max-semi-space-size=1'];

export interface ForkSpawnSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Keep a stdin pipe (otherwise the command's stdin is /dev/null). */
  stdin: boolean;
  /** Fork the command inside this cgroup (its cgroup.procs), the fork server returning to `home` after. */
  cgroup?: { procs: string; home: string };
}

/** A spawned command: the leader's pid, its pipes and exit; `stuck` when the fork server could not leave the cgroup. */
export interface ForkSpawned extends SpawnedChild {
  stuck: boolean;
}

interface Pending {
  /** The helper asked: if it dies, this spawn fails (a restarted helper's spawns are not touched). */
  proc: ChildProcess;
  resolve: (spawned: ForkSpawned) => void;
  reject: (e: Error) => void;
  spawned?: { pid: number; stuck: boolean; stdout: Native; stderr?: Native; stdin?: Native; exit: Promise<LeaderExit> };
  needStdin: boolean;
  /** Pool pipes named in the request (their ends here), when it could use them. */
  pooled?: { stdout: Native; stderr: Native; stdin?: Native };
}

type Reply =
  | { t: 'pool'; pipe: number }
  | { t: 'spawned'; id: number; pid: number; stuck: boolean }
  | { t: 'pipe'; id: number; which: 'stderr' | 'stdin' }
  | { t: 'error'; id: number; code: string | null; message: string; cgroup?: boolean }
  | { t: 'exit'; id: number; exitCode: number | null; signal: NodeJS.Signals | null };

/**
 * A native pipe handle as Node's IPC hands it over ('net.Native'): nothing reads it until a Socket wraps it, so
 * an empty output cannot end (and close) before the execution listens, while the other pipes are on their way.
 */
type Native = { close(): void };

/** A Socket on a received handle: read-only for the command's output, write-only for its stdin. */
function socketOn(handle: Native, input: boolean): Socket {
  // `handle` is how node:child_process and net.Server build sockets on native handles too.
  return new Socket({ handle, readable: !input, writable: input } as ConstructorParameters<typeof Socket>[0]);
}

/** Raised when the fork server could not put the command in its cgroup (nothing was started). */
export class ForkServerCgroupError extends Error {}

/**
 * Spawns commands from a small helper process instead of the server itself (see fork-server-main.ts for why).
 * Started at the first spawn (or start()), restarted when it dies. If it dies with commands running, their exits
 * can no longer be seen: their groups are killed and each exit reads SIGKILL. Closing the channel (close(), or
 * the server's own exit) makes it kill every group it still leads and exit.
 */
export class ForkServer {
  private proc: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Running leaders: id -> pid and exit callback. */
  private readonly running = new Map<number, { proc: ChildProcess; pid: number; exit: (exit: LeaderExit) => void }>();
  /** Pipes made ahead by the fork server: our ends, by its pipe id (the command-side end stays there). */
  private readonly pool = new Map<number, Native>();
  private closed = false;

  /**
   * @param cgroupLevel Under cgroup containment, the server's level in the tree: if the server dies, the helper
   * kills every execution cgroup in it (setsid escapes included), not only the groups it leads.
   */
  constructor(private readonly cgroupLevel?: string) {}

  /** Start the helper now (the server does at startup, so the first execute does not wait for a Node start). */
  start(): void {
    this.ensure();
  }

  /** Pid of the helper process, when it runs. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /**
   * Spawn a command in a new session (setsid) from the helper. Rejects with the OS error (code ENOENT, EACCES,
   * EMFILE...) when it could not start, or a ForkServerCgroupError when it could not enter the cgroup.
   */
  spawn(spec: ForkSpawnSpec): Promise<ForkSpawned> {
    if (this.closed) return Promise.reject(Object.assign(new Error('the fork server is closed'), { code: 'ESHUTDOWN' }));
    const proc = this.ensure();
    const id = this.nextId++;
    const pipeIds = [...this.pool.keys()].slice(0, spec.stdin ? 3 : 2);
    const enough = pipeIds.length === (spec.stdin ? 3 : 2);
    const take = (i: number) => {
      const n = this.pool.get(pipeIds[i]!)!;
      this.pool.delete(pipeIds[i]!);
      return n;
    };
    const pooled = enough ? { stdout: take(0), stderr: take(1), ...(spec.stdin ? { stdin: take(2) } : {}) } : undefined;
    const pipes = enough ? { stdout: pipeIds[0], stderr: pipeIds[1], ...(spec.stdin ? { stdin: pipeIds[2] } : {}) } : undefined;
    return new Promise<ForkSpawned>((resolve, reject) => {
      this.pending.set(id, { proc, resolve, reject, needStdin: spec.stdin, ...(pooled ? { pooled } : {}) });
      this.holdLoop();
      proc.send({ t: 'spawn', id, ...spec, ...(pipes ? { pipes } : {}) }, (e) => {
        if (e) this.failPending(id, e);
      });
    });
  }

  /** Stop the helper: it kills every group whose leader still runs, and exits (SIGKILLed if it has not in 2 s). */
  /**
   * Resolves once the helper has exited (SIGKILLed after 2 s). Awaited before the server's cgroup level goes: a
   * helper still shutting down kills every execution cgroup under that level, and an engine started again in the
   * same process (same pid, same level) would otherwise lose its new cgroups to it.
   */
  close(): Promise<void> {
    this.closed = true;
    this.dropPool();
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (proc.connected) {
      proc.send({ t: 'close' }, () => undefined);
      proc.disconnect();
    }
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2_000);
    timer.unref();
    return exited.finally(() => clearTimeout(timer));
  }

  /**
   * The channel keeps this process alive only while a spawn is answered or an exit awaited (a pending request
   * must not be dropped by an exiting event loop); idle, it does not.
   */
  private holdLoop(): void {
    const busy = this.pending.size + this.running.size > 0;
    if (busy) this.proc?.channel?.ref();
    else this.proc?.channel?.unref();
  }

  private ensure(): ChildProcess {
    if (this.proc && this.proc.connected) return this.proc;
    // A helper that lost its channel is being replaced: the pipes it offered are useless.
    this.dropPool();
    const proc = fork(mainScript(), [String(process.pid), ...(this.cgroupLevel ? [this.cgroupLevel] : [])], {
      execArgv: EXEC_ARGV,
      // Its own session: a terminal's ^C reaches the server only; the server then stops commands and closes us.
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.proc = proc;
    // Neither the process nor its channel keeps the server alive: running commands hold their own pipes.
    proc.unref();
    proc.channel?.unref();
    proc.on('error', () => undefined);
    proc.on('message', (m: Reply, handle?: Native) => {
      // A pipe offered by a helper that has been replaced belongs to no one now.
      if (m.t === 'pool' && proc !== this.proc) handle?.close();
      else this.onReply(m, handle);
      this.holdLoop();
    });
    proc.once('exit', () => this.onGone(proc));
    return proc;
  }

  private onReply(m: Reply, handle: Native | undefined): void {
    if (m.t === 'pool') {
      // Without a handle the descriptor did not arrive (we were out of descriptors): nothing to keep.
      if (handle) this.pool.set(m.pipe, handle);
      return;
    }
    if (m.t === 'exit') {
      const r = this.running.get(m.id);
      this.running.delete(m.id);
      r?.exit({ exitCode: m.exitCode, signal: m.signal });
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) {
      handle?.close();
      return;
    }
    if (m.t === 'error') {
      this.pending.delete(m.id);
      for (const n of Object.values(p.pooled ?? {})) n.close();
      const e = m.cgroup ? new ForkServerCgroupError(m.message) : new Error(m.message);
      p.reject(Object.assign(e, { code: m.code ?? undefined }));
      return;
    }
    if (m.t === 'spawned' && p.pooled) {
      this.resolve(m.id, p, { pid: m.pid, stuck: m.stuck, ...p.pooled, exit: this.track(m.id, p.proc, m.pid) });
      return;
    }
    if (!handle) {
      // The descriptor did not arrive (this process was out of descriptors): the command cannot be read.
      this.lostPipe(m.id, p);
      return;
    }
    if (m.t === 'spawned') {
      // The exit is kept from the first message on (a helper that dies now still settles it).
      p.spawned = { pid: m.pid, stuck: m.stuck, stdout: handle, exit: this.track(m.id, p.proc, m.pid) };
      return;
    }
    if (!p.spawned) return;
    if (m.which === 'stderr') p.spawned.stderr = handle;
    else p.spawned.stdin = handle;
    const { stderr, stdin } = p.spawned;
    if (stderr && (!p.needStdin || stdin)) this.resolve(m.id, p, { ...p.spawned, stderr });
  }

  /** A started leader whose exit the helper will report: the promise of that exit. */
  private track(id: number, proc: ChildProcess, pid: number): Promise<LeaderExit> {
    return new Promise((exit) => this.running.set(id, { proc, pid, exit }));
  }

  /** Every pipe of spawn `id` is here: wrap them in sockets and answer. */
  private resolve(
    id: number,
    p: Pending,
    s: { pid: number; stuck: boolean; stdout: Native; stderr: Native; stdin?: Native | undefined; exit: Promise<LeaderExit> },
  ): void {
    this.pending.delete(id);
    p.resolve({
      pid: s.pid,
      stuck: s.stuck,
      stdout: socketOn(s.stdout, false),
      stderr: socketOn(s.stderr, false),
      stdin: s.stdin ? socketOn(s.stdin, true) : null,
      exit: s.exit,
    });
  }

  private dropPool(): void {
    for (const n of this.pool.values()) n.close();
    this.pool.clear();
  }

  /** A pipe of a started command was lost in transit: kill the command, refuse the spawn with EMFILE. */
  private lostPipe(id: number, p: Pending): void {
    this.pending.delete(id);
    if (p.spawned) {
      killGroup(p.spawned.pid);
      for (const s of [p.spawned.stdout, p.spawned.stderr, p.spawned.stdin]) s?.close();
    }
    p.reject(Object.assign(new Error('a pipe of the command did not arrive (out of descriptors)'), { code: 'EMFILE' }));
  }

  private failPending(id: number, e: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    for (const n of Object.values(p.pooled ?? {})) n.close();
    if (p.spawned) killGroup(p.spawned.pid);
    p.reject(e);
  }

  /** The helper exited: fail what was being spawned; commands whose exit it would have reported are killed. */
  private onGone(proc: ChildProcess): void {
    if (this.proc === proc) {
      this.proc = undefined;
      // Their other ends died with it (a replacement's pool is its own: see ensure).
      this.dropPool();
    }
    for (const [id, p] of [...this.pending]) {
      if (p.proc === proc) this.failPending(id, Object.assign(new Error('the fork server exited'), { code: 'ECHILD' }));
    }
    for (const [id, r] of [...this.running]) {
      if (r.proc !== proc) continue;
      this.running.delete(id);
      killGroup(r.pid);
      r.exit({ exitCode: null, signal: 'SIGKILL' });
    }
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
