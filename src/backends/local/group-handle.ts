// The local handle of one command: a ProcessGroup (setsid'd leader and everything it starts) with two pipes.
import type { Readable, Writable } from 'node:stream';
import type { HandleDescription, HandleExit, ProcessHandle } from '../backend.js';
import type { ForkServer } from './fork-server.js';
import { feedStdin, ProcessGroup, wantsStdinPipe, type SpawnSpec } from './process-group.js';
import { withoutShellStartupFiles } from './shell-startup.js';
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
    const { stdout, stderr } = group.child;
    this.stdout = stdout;
    this.stderr = stderr;
    this.stdin = interactive ? group.child.stdin : null;
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

/**
 * The same handle, spawned by the fork server (a small helper process: cheaper forks, no fork on the server's
 * event loop). With `cgroup`, the helper forks the command inside that cgroup; `stuck` says it could not move
 * back (the caller kills the command and stops using that path). Throws the OS error like spawnGroupHandle.
 */
export async function spawnGroupHandleFrom(
  forkServer: ForkServer,
  spec: SpawnSpec,
  cgroup?: { procs: string; home: string },
): Promise<{ handle: GroupHandle; stuck: boolean }> {
  const spawned = await forkServer.spawn({
    file: spec.file,
    args: spec.args,
    cwd: spec.cwd,
    // Piped stdin is a socket pair: keep Debian's bash from taking that for sshd and running ~/.bashrc.
    env: withoutShellStartupFiles(spec.env),
    stdin: wantsStdinPipe(spec),
    ...(cgroup ? { cgroup } : {}),
  });
  feedStdin(spawned.stdin, spec);
  return { handle: new GroupHandle(new ProcessGroup(spawned), spec.interactive === true), stuck: spawned.stuck };
}
