// Every process the bench starts, in its own process group, so one call can stop all of them (also on failure).
import { fork, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

/** How long a child gets after SIGTERM before its whole group is SIGKILLed. */
const TERM_GRACE_MS = 4_000;

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // group already gone
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export class ChildSet {
  private readonly children = new Set<ChildProcess>();

  /** Spawn a program as the leader of a new process group. */
  spawn(file: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return this.track(spawn(file, args, { ...options, detached: true }));
  }

  /**
   * Fork a compiled bench role (dist/bench/roles/*.js) with an IPC channel, in a new process group.
   * BENCH_ROLE_NODE_FLAGS passes Node flags to roles (e.g. `--cpu-prof --cpu-prof-dir=tmp/prof`).
   */
  fork(modulePath: string, args: string[]): ChildProcess {
    const execArgv = (process.env.BENCH_ROLE_NODE_FLAGS ?? '').split(/\s+/).filter((a) => a !== '');
    return this.track(fork(modulePath, args, { detached: true, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.on('error', () => undefined); // 'exit' follows, or the caller sees the failure through its own promise
    return child;
  }

  /** SIGTERM the child's group, wait for it, SIGKILL the group if it lingers. */
  async stop(child: ChildProcess, graceMs = TERM_GRACE_MS): Promise<void> {
    if (exited(child)) {
      signalGroup(child, 'SIGKILL'); // leftovers of the group, if any
      return;
    }
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(child, 'SIGTERM');
    const clean = await Promise.race([gone.then(() => true), delay(graceMs).then(() => false)]);
    signalGroup(child, 'SIGKILL');
    if (!clean) await Promise.race([gone, delay(1_000)]);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c)));
  }

  /** Synchronous last resort, for the 'exit' handler. */
  killAllNow(): void {
    for (const child of this.children) signalGroup(child, 'SIGKILL');
  }
}
