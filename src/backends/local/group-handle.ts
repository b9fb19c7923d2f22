// The local handle of one command: a ProcessGroup (setsid'd leader and everything it starts) with two pipes.
import type { Readable } from 'node:stream';
import type { HandleDescription, HandleExit, ProcessHandle } from '../backend.js';
import { ProcessGroup, type SpawnSpec } from './process-group.js';

/**
 * Process-group containment with stdout/stderr pipes: the default local handle.
 * Other local handles sit beside it and implement the same ProcessHandle (containment: a cgroup handle
 * whose signal/pause/kill/isAlive use cgroup.procs, cgroup.freeze and cgroup.kill; interactive: a PTY
 * handle on @lydell/node-pty); LocalBackend picks one per launch through its HandleFactory list.
 */
export class GroupHandle implements ProcessHandle {
  readonly stdout: Readable;
  readonly stderr: Readable | null;
  readonly stdin = null;
  readonly pty = null;
  readonly exit: Promise<HandleExit>;
  private readonly description: HandleDescription;

  constructor(private readonly group: ProcessGroup) {
    const { stdout, stderr } = group.subprocess;
    if (!stdout) throw new Error('the child has no stdout pipe');
    this.stdout = stdout;
    this.stderr = stderr;
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

  describe(): HandleDescription {
    return this.description;
  }
}

/**
 * Spawn a local command in its own process group with pipes, outside any backend policy (no launch wrapper):
 * for the server's own helpers such as hooks. Throws the OS error (ENOENT, EACCES...) when it cannot start.
 */
export async function spawnGroupHandle(spec: SpawnSpec): Promise<GroupHandle> {
  return new GroupHandle(await ProcessGroup.spawn(spec));
}
