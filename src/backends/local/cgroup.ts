// One cgroup v2 directory holding one execution: membership, kill, freeze, "gone", limits, usage and removal.
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import type { HandleUsage, ResourceLimits } from '../backend.js';

/** How often a waiter re-reads cgroup.events: a read of that file costs microseconds. */
const POLL_MS = 15;
/** Rounds of "SIGKILL every member" on kernels without cgroup.kill (a forking member may add new ones). */
const FALLBACK_KILL_ROUNDS = 50;

/**
 * The launch wrapper: the shell writes its own pid into cgroup.procs, then execs the command, so the command
 * (and everything it will ever fork, setsid or not) starts inside the cgroup. `$0` is the procs file.
 * 125 (as env(1) and docker use) says the wrapper itself failed, with the reason on stderr.
 */
const ENTER_SCRIPT = 'echo $$ 2>/dev/null >"$0" || { echo "cc-executor: cannot enter cgroup $0" >&2; exit 125; }; exec "$@"';

/** Parse a flat-keyed cgroup file ("populated 1\nfrozen 0") into numbers. */
function readKeyed(file: string): Map<string, number> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined) out.set(key, Number(value));
  }
  return out;
}

/** A cgroup v2 directory. Every method tolerates the directory being gone (then: nothing alive, nothing to do). */
export class Cgroup {
  /**
   * @param path absolute directory of the cgroup (under a cgroup2 mount)
   * @param hasKillFile the kernel offers cgroup.kill (5.14+); otherwise kill signals members until empty
   * @param controllers the controllers enabled for this cgroup when known: files of the others are not even
   *   tried (a failed read builds an exception, and a thousand executions ending at once read them all)
   */
  constructor(
    readonly path: string,
    readonly hasKillFile = existsSync(join(path, 'cgroup.kill')),
    readonly controllers?: ReadonlySet<string>,
  ) {}

  private has(controller: string): boolean {
    return this.controllers === undefined || this.controllers.has(controller);
  }

  /**
   * The program and arguments that run `file args` inside this cgroup from its very first instruction:
   * `/bin/sh -c '<enter> ; exec "$@"' <cgroup.procs> file args...`.
   */
  wrap(file: string, args: string[]): { file: string; args: string[] } {
    return { file: '/bin/sh', args: ['-c', ENTER_SCRIPT, join(this.path, 'cgroup.procs'), file, ...args] };
  }

  /** Write a control file; throws the errno error (EBUSY, EINVAL, ENOENT...). */
  write(name: string, value: string): void {
    writeFileSync(join(this.path, name), value);
  }

  /** Apply limits (each needs its controller enabled for this cgroup; the caller checked). */
  applyLimits(limits: ResourceLimits): void {
    if (limits.memoryMaxBytes !== undefined) {
      this.write('memory.max', String(limits.memoryMaxBytes));
      // Without this a hog swaps instead of being killed; absent without swap accounting (fine to skip).
      if (existsSync(join(this.path, 'memory.swap.max'))) this.write('memory.swap.max', '0');
    }
    if (limits.pidsMax !== undefined) this.write('pids.max', String(limits.pidsMax));
    if (limits.cpuMax !== undefined) this.write('cpu.max', limits.cpuMax);
  }

  /** Pids of every live member (zombies are not members: the kernel removes a task at exit). */
  members(): number[] {
    let text: string;
    try {
      text = readFileSync(join(this.path, 'cgroup.procs'), 'utf8');
    } catch {
      return [];
    }
    const pids: number[] = [];
    for (const line of text.split('\n')) if (line !== '') pids.push(Number(line));
    return pids;
  }

  /** True while any process lives in this cgroup or below it (`populated 1`). */
  populated(): boolean {
    return readKeyed(join(this.path, 'cgroup.events'))?.get('populated') === 1;
  }

  /** True once every member is frozen (`frozen 1`). */
  frozen(): boolean {
    return readKeyed(join(this.path, 'cgroup.events'))?.get('frozen') === 1;
  }

  /** Send a signal to every member (`members`: a list the caller has just read). False when there was none to receive it. */
  signal(sig: NodeJS.Signals | number, members = this.members()): boolean {
    let sent = false;
    for (const pid of members) {
      try {
        process.kill(pid, sig);
        sent = true;
      } catch {
        // exited between the read and the kill
      }
    }
    return sent;
  }

  /**
   * SIGKILL every member at once, synchronously (safe in a process 'exit' handler). cgroup.kill is atomic
   * against forks; without it, members are killed until a read finds none (bounded rounds).
   */
  kill(): void {
    if (this.hasKillFile) {
      try {
        this.write('cgroup.kill', '1');
      } catch {
        // ENOENT: already removed, nothing left
      }
      return;
    }
    for (let round = 0; round < FALLBACK_KILL_ROUNDS && this.signal('SIGKILL'); round++);
  }

  /** Freeze every member (atomic: a member cannot fork or see a SIGSTOP); resolves once `frozen 1`. */
  async freeze(timeoutMs = 5_000): Promise<boolean> {
    this.write('cgroup.freeze', '1');
    return this.waitFor(() => this.frozen() || !this.populated(), timeoutMs);
  }

  /** Undo freeze(); resolves once the kernel reports `frozen 0`. */
  async thaw(timeoutMs = 5_000): Promise<boolean> {
    try {
      this.write('cgroup.freeze', '0');
    } catch {
      return true; // removed: nothing frozen
    }
    return this.waitFor(() => !this.frozen(), timeoutMs);
  }

  /** Resolves true once nothing lives in the cgroup (`populated 0`), false if timeoutMs passes first. */
  waitEmpty(timeoutMs = Infinity): Promise<boolean> {
    return this.waitFor(() => !this.populated(), timeoutMs);
  }

  private async waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() >= until) return false;
      await delay(POLL_MS);
    }
    return true;
  }

  /** CPU time (cpu.stat, always present in v2) and peak memory (memory.peak, with the memory controller). */
  usage(): HandleUsage {
    const usec = readKeyed(join(this.path, 'cpu.stat'))?.get('usage_usec');
    let peak: number | null = null;
    if (this.has('memory')) {
      try {
        peak = Number(readFileSync(join(this.path, 'memory.peak'), 'utf8').trim());
      } catch {
        // no memory controller here (or a kernel before memory.peak)
      }
    }
    return { cpuMs: usec === undefined ? null : Math.round(usec / 1000), memoryPeakBytes: peak };
  }

  /** Times the kernel killed a member for hitting a limit (memory.events oom_kill, pids.events max). */
  limitEvents(): { oomKills: number; pidsMaxHits: number } {
    return {
      oomKills: (this.has('memory') ? readKeyed(join(this.path, 'memory.events'))?.get('oom_kill') : undefined) ?? 0,
      pidsMaxHits: (this.has('pids') ? readKeyed(join(this.path, 'pids.events'))?.get('max') : undefined) ?? 0,
    };
  }

  /** rmdir the cgroup. True when it is gone (removed now or before); false while members remain (EBUSY). */
  remove(): boolean {
    try {
      rmdirSync(this.path);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }
}
