// The fork server's own process: a small Node process that spawns the server's commands and hands back their pipes.
//
// Why a separate process: fork() costs in proportion to the forker's anonymous memory (page tables copied,
// every page write-protected and faulted again), ~0.09 ms per MiB on this kind of VM. The server holds 60-75
// MiB; this process about 10, so a spawn from here is several milliseconds cheaper, and the server's event
// loop is not blocked for the fork at all (Python's multiprocessing "forkserver" exists for the same reason).
// It imports nothing but node:child_process and node:fs, so it stays small; it must never grow state per
// command beyond the running ones.
//
// Started as `fork-server-main.js <server pid> [<server's cgroup level>]`. Protocol (Node's IPC channel, JSON):
// this process keeps offering pipes ahead, {t:'pool', pipe} with the server's end of each. The server sends
// {t:'spawn', id, file, args, cwd, env, stdin, pipes?, cgroup?}; the answer is {t:'spawned', id, pid, stuck}
// (with `pipes`, naming pool pipes, it carries no descriptor; without, the stdout end comes with it and
// {t:'pipe', id, which} messages bring stderr and stdin), or {t:'error', id, code, message}; later
// {t:'exit', id, exitCode, signal}. {t:'close'} (or the server's death) ends it.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface SpawnRequest {
  t: 'spawn';
  id: number;
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Keep a stdin pipe (else /dev/null). */
  stdin: boolean;
  /** Pipes of the pool (already in the server's hands) to use for the command's stdio; else new ones are sent. */
  pipes?: { stdout: number; stderr: number; stdin?: number };
  /** Fork the command inside this cgroup: this process moves into it around the synchronous spawn. */
  cgroup?: { procs: string; home: string };
}

/** Leaders still running, by pid: killed (their whole group) when the server goes away. */
const running = new Set<number>();

/** The pool's private directory: `cc-executor-fork-<pid>-XXXXXX` in the temp dir. */
const DIR_PREFIX = 'cc-executor-fork-';

/**
 * Remove the pool directories of fork servers that are gone. A fork server removes its own when it ends, but not
 * when it is SIGKILLed (the OOM killer, an administrator): the next one to start clears them, by the pid in the name.
 */
function removeDeadPoolDirs(): void {
  let names: string[] = [];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^cc-executor-fork-(\d+)-/.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // alive (or not ours to signal): leave it
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    try {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    } catch {
      // Someone else's, or gone meanwhile.
    }
  }
}

/** Connected socket pairs kept ready (the server holds the other ends): the server's pool is refilled to this. */
const POOL_TARGET = 8;

/**
 * Pipes made ahead of time, so a spawn's answer carries no descriptor: Node's IPC passes one descriptor per
 * message and waits for the receiver's acknowledgement before it sends anything else, which put four more
 * process hops between a fork and the server's first sight of the command. Each pipe is a connected pair of
 * Unix stream sockets (what node:child_process makes for 'pipe' stdio): this process keeps one end for a
 * future command's stdio, the server gets the other. Pairs are made through a listening socket in a private
 * (0700) directory, one connection at a time, so the next accepted connection is always the pair's.
 */
class PipePool {
  private readonly dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  private readonly path = join(this.dir, 'pipes');
  private readonly listener = createServer({ pauseOnConnect: true });
  private readonly ends = new Map<number, Socket>();
  private nextId = 1;
  private filling = false;
  private ready: Promise<boolean>;

  constructor() {
    this.ready = new Promise((resolve) => {
      this.listener.once('error', () => resolve(false));
      this.listener.listen(this.path, () => resolve(true));
    });
  }

  /** The command-side end of pipe `id` (taken: the caller closes it once the command has it). */
  take(id: number): Socket | undefined {
    const end = this.ends.get(id);
    this.ends.delete(id);
    return end;
  }

  /** Make pairs until the server holds POOL_TARGET unused (as many as this process keeps ends of); one at a time, in the background. */
  refill(): void {
    if (this.filling) return;
    this.filling = true;
    void this.fill().finally(() => (this.filling = false));
  }

  /** Refill now when fewer than three commands' pipes are left (a burst of spawns), else after exits only. */
  refillIfLow(): void {
    if (this.ends.size < 6) this.refill();
  }

  close(): void {
    for (const end of this.ends.values()) end.destroy();
    this.listener.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async fill(): Promise<void> {
    if (!(await this.ready)) return;
    while (this.ends.size < POOL_TARGET && process.connected) {
      const pair = await this.pair();
      if (!pair) return;
      const id = this.nextId++;
      this.ends.set(id, pair.mine);
      // The accepted end never read here (pauseOnConnect): its native handle goes to the server as is.
      send({ t: 'pool', pipe: id }, (pair.theirs as unknown as { _handle: NativeHandle })._handle);
    }
  }

  private pair(): Promise<{ mine: Socket; theirs: Socket } | undefined> {
    return new Promise((resolve) => {
      let theirs: Socket | undefined;
      let mine: Socket | undefined;
      const done = () => {
        if (theirs && mine) {
          this.listener.off('connection', onConnection);
          resolve({ mine, theirs });
        }
      };
      const onConnection = (s: Socket) => {
        theirs = s;
        done();
      };
      this.listener.on('connection', onConnection);
      const c = createConnection(this.path, () => {
        mine = c;
        done();
      });
      c.on('error', () => {
        this.listener.off('connection', onConnection);
        resolve(undefined);
      });
    });
  }
}

const pool = new PipePool();

/** Node's native handle under a net.Socket (a Pipe): sent as is ('net.Native'), so no Socket wraps it here. */
type NativeHandle = { readStop(): number; close(): void };

/**
 * The native handle of one of the child's stdio sockets, taken from the ChildProcess so only the server reads or
 * writes it. net.Socket's constructor already started reading (read(0)): stop before the event loop can read a
 * byte here that the server would never see. process.send closes it here once the server has it.
 */
function detach(socket: Socket | null): NativeHandle | null {
  const handle = (socket as unknown as { _handle: NativeHandle | null } | null)?._handle ?? null;
  handle?.readStop();
  return handle;
}

function send(message: object, handle?: NativeHandle): void {
  // A server that is gone cannot be told anything; 'disconnect' cleans up.
  if (!process.connected) {
    handle?.close();
    return;
  }
  // Once written, the descriptor is in flight (the kernel holds it for the server): our copy is closed, or this
  // process would keep one end of every pipe it ever handed over.
  process.send!(message, handle as never, undefined, () => handle?.close());
}

function errorReply(id: number, e: unknown, stage: string): object {
  const err = e as NodeJS.ErrnoException;
  return { t: 'error', id, code: err.code ?? null, message: `${stage}${err.message ?? String(e)}` };
}

/** A started leader: its exit is reported (then the pool refilled), and it is killed if the server goes. */
function track(child: ChildProcess, pid: number, id: number): void {
  child.on('error', () => undefined);
  running.add(pid);
  child.once('exit', (exitCode, signal) => {
    running.delete(pid);
    send({ t: 'exit', id, exitCode, signal });
    pool.refill();
    // After the first pipes are on their way: off the path to the first spawn.
    setTimeout(removeDeadPoolDirs, 1_000).unref();
  });
}

function handleSpawn(m: SpawnRequest): void {
  let child: ChildProcess;
  let stuck = false;
  // Pooled pipes (the server holds their other ends) or new ones ('pipe': sent to the server after the fork).
  const ids = m.pipes ? [m.pipes.stdin, m.pipes.stdout, m.pipes.stderr] : [];
  const pooled = ids.map((id) => (id === undefined ? undefined : pool.take(id)));
  if (pooled.some((end, i) => ids[i] !== undefined && end === undefined)) {
    for (const end of pooled) end?.destroy();
    send({ t: 'error', id: m.id, code: 'EBADF', message: 'a pipe named in the request is not in the pool' });
    return;
  }
  if (m.cgroup) {
    try {
      writeFileSync(m.cgroup.procs, String(process.pid));
    } catch (e) {
      for (const end of pooled) end?.destroy();
      send({ ...errorReply(m.id, e, 'cannot enter the cgroup: '), cgroup: true });
      return;
    }
  }
  const stdio: StdioOptions = m.pipes
    ? [pooled[0] ?? 'ignore', pooled[1] ?? 'ignore', pooled[2] ?? 'ignore']
    : [m.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  try {
    child = spawn(m.file, m.args, { cwd: m.cwd, env: m.env, detached: true, stdio });
  } catch (e) {
    send(errorReply(m.id, e, ''));
    return;
  } finally {
    // The command has its own copies (or none, if it did not start): the pooled ends are not ours any more.
    for (const end of pooled) end?.destroy();
    if (m.cgroup) {
      try {
        writeFileSync(m.cgroup.home, String(process.pid));
      } catch {
        stuck = true;
      }
    }
  }
  const pid = child.pid;
  if (pid === undefined) {
    child.once('error', (e) => send(errorReply(m.id, e, '')));
    return;
  }
  track(child, pid, m.id);
  if (m.pipes) {
    send({ t: 'spawned', id: m.id, pid, stuck });
    pool.refillIfLow();
    return;
  }
  // With 'pipe' stdio every one of them is a net.Socket (a socket pair's end).
  const out = detach(child.stdout as Socket | null);
  const err = detach(child.stderr as Socket | null);
  const inp = detach(child.stdin as Socket | null);
  // At the leader's exit Node would resume (read and drop) stdout/stderr and destroy stdin: they are the server's.
  child.stdio[0] = child.stdio[1] = child.stdio[2] = null as never;
  child.stdin = child.stdout = child.stderr = null;
  // One handle per message (Node's IPC sends one at a time, in order; later messages wait their turn).
  send({ t: 'spawned', id: m.id, pid, stuck }, out!);
  send({ t: 'pipe', id: m.id, which: 'stderr' }, err!);
  if (inp) send({ t: 'pipe', id: m.id, which: 'stdin' }, inp);
  pool.refillIfLow();
}

/**
 * Under cgroup containment, the server's own level (argv): every execution cgroup in it is killed when the server
 * is gone, which also reaches what escaped its process group (setsid) and groups whose leader has exited.
 */
const cgroupLevel = process.argv[3];
/** The server's pid (argv): a new parent means it is gone, and a cgroup holding it is never killed. */
const owner = Number(process.argv[2]);

/** True when `pid` is a member of the cgroup at `dir`. */
function holds(dir: string, pid: number): boolean {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid));
  } catch {
    return false;
  }
}

/**
 * cgroup.kill of every execution cgroup under the server's level, except one this process is stuck in or one
 * holding the server itself (it forks through execution cgroups: cgroup-tree's forkInto).
 */
function killExecutionCgroups(level: string): void {
  let own = '';
  try {
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    // Unknown: kill them all.
  }
  let dirs: string[] = [];
  try {
    dirs = readdirSync(level, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return;
  }
  for (const name of dirs) {
    if (own.includes(`/${name}\n`) || holds(join(level, name), owner)) continue;
    try {
      writeFileSync(join(level, name, 'cgroup.kill'), '1');
    } catch {
      // No cgroup.kill (kernel < 5.14) or gone: the process-group kill above is what there is.
    }
  }
}

// The server is gone (exit, crash, SIGKILL) or closes us: nothing it started may outlive it.
function shutDown(): never {
  pool.close();
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  if (cgroupLevel) killExecutionCgroups(cgroupLevel);
  process.exit(0);
}

process.on('message', (m: SpawnRequest | { t: 'close' }) => {
  if (m?.t === 'spawn') handleSpawn(m);
  // Asked to go: a disconnect alone can wait forever if it comes while a pool pipe is in flight (Node's IPC then
  // waits for the rest of a message that waits for an acknowledgement).
  else if (m?.t === 'close') shutDown();
});
process.on('disconnect', shutDown);
// 'disconnect' alone is not enough: when the server dies in the middle of a message (an acknowledgement of a pool
// pipe), Node waits for the rest of it before it reports the disconnect, forever. A new parent means the server is gone
// (its pid comes as an argument: a server that died while this process started is not our parent even now).
setInterval(() => {
  if (process.ppid !== owner) shutDown();
}, 250).unref();

// Started in a session of its own: a terminal's ^C reaches the server, which stops the commands and then us.
for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.on(sig, () => undefined);

pool.refill();
// After the first pipes are on their way: off the path to the first spawn.
setTimeout(removeDeadPoolDirs, 1_000).unref();
