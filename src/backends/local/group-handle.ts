// The local handle of one command: a ProcessGroup (setsid'd leader and everything it starts) with two pipes.
import type { Readable, Writable } from 'node:stream';
import type { HandleDescription, HandleExit, ProcessHandle } from '../backend.js';
import { ProcessGroup, type SpawnSpec } from './process-group.js';
import { isWaitingForInput, readInputTarget } from './stdin-wait.js';

/**
 * Process-group containment with stdout/stderr pipes: the default local handle.
 * Other local handles sit beside it and implement the same ProcessHandle (containment: a cgroup handle
 * whose signal/pause/kill/isAlive use cgroup.procs, cgroup.freeze and cgroup.kill; interactive: a PTY
 * handle on @lydell/node-pty); LocalBackend picks one per launch through its HandleFactory list.
 */
export class GroupHandle implements ProcessHandle {
  readonly stdout: Readable;
  readonly stderr: Readable | null;
  /** The open stdin pipe of an interactive execution; null otherwise (stdin text was written, or /dev/null). */
  readonly stdin: Writable | null;
  readonly pty = null;
  readonly exit: Promise<HandleExit>;
  private readonly description: HandleDescription;
  /** What the leader's fd 0 is ("pipe:[n]" or "socket:[n]"), read at spawn: a member reading it waits for input. */
  private readonly inputTargets: ReadonlySet<string>;

  constructor(
    private readonly group: ProcessGroup,
    interactive = false,
  ) {
    const { stdout, stderr } = group.subprocess;
    if (!stdout) throw new Error('the child has no stdout pipe');
    this.stdout = stdout;
    this.stderr = stderr;
    this.stdin = interactive ? group.subprocess.stdin : null;
    const target = interactive ? readInputTarget(group.pid) : null;
    this.inputTargets = new Set(target === null ? [] : [target]);
    this.exit = group.leaderExit;
    // Fixed at spawn: with the pgid, the leader's start time names this group even after a server restart.
    this.description = { backend: 'local', pid: group.pid, pgid: group.pgid, startTicks: group.startTicks ?? null };
  }

  signal(sig: NodeJS.Signals): boolean {
    return this.group.signal(sig);
  }

  pause(): Promise<void> {
    this.group.signal('SIGSTOP');
    return Promise.resolve();
  }

  resume(): Promise<void> {
    this.group.signal('SIGCONT');
    return Promise.resolve();
  }

  terminate(graceMs: number): Promise<boolean> {
    return this.group.terminate(graceMs);
  }

  kill(): void {
    this.group.kill();
  }

  isAlive(): boolean {
    return this.group.isAlive();
  }

  waitGone(timeoutMs?: number): Promise<boolean> {
    return this.group.waitGone(timeoutMs);
  }

  memberCount(): number {
    return this.group.members().length;
  }

  /** Interactive only: true when a member is blocked reading the stdin pipe; null when /proc cannot tell. */
  waitingForInput(ignore?: ReadonlySet<number>): boolean | null {
    if (this.stdin === null || this.stdin.writableEnded) return false;
    const members = this.group.members().filter((pid) => !ignore?.has(pid));
    if (members.length === 0) return false;
    return isWaitingForInput(members, this.inputTargets);
  }

  describe(): HandleDescription {
    return this.description;
  }
}

/**
 * Spawn a local command in its own process group with pipes, outside any backend policy (no launch wrapper):
 * for the server's own helpers such as hooks. Throws the OS error (ENOENT, EACCES...) when it cannot start.
 */
export async function spawnGroupHandle(spec: SpawnSpec): Promise<GroupHandle> {
  return new GroupHandle(await ProcessGroup.spawn(spec), spec.interactive === true);
}
