// A sandboxed command's handle: the local handle that spawned bwrap, plus reach into the sandbox's PID namespace.
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { HandleDescription, HandleExit, HandleUsage, ProcessHandle, PtySize, SandboxSpec } from '../backend.js';
import { findSandboxInit, listSandboxMembers } from './sandbox-members.js';
import { KILL_WAIT_MS, pollUntilGone } from './stop-politely.js';

const POLL_MS = 20;

/** Process group id from /proc/<pid>/stat (undefined when the process is gone). */
function readPgid(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

function sendTo(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export interface SandboxHandleOptions {
  /**
   * True when the inner handle reaches members by process group: then members that left the group (setsid) are
   * signalled one by one from the namespace scan. False when it holds a cgroup, which reaches all of them already.
   */
  reachEscapees: boolean;
}

/**
 * Decorates the handle of the outer bwrap. The local handle's process group holds bwrap, the sandbox's init and
 * the command (bwrap runs without --new-session, and ignores the signals meant for the command); a member that
 * called setsid has left that group but not the PID namespace, so signals, pause and resume also reach it from a
 * namespace scan. Kill is SIGKILL to the sandbox's init: the kernel then kills everything in the namespace.
 */
export class SandboxHandle implements ProcessHandle {
  readonly stdout: Readable;
  readonly stderr: Readable | null;
  readonly stdin: Writable | null;
  readonly exit: Promise<HandleExit>;
  readonly pty: PtySize | null;
  readonly resize?: (size: PtySize) => void;
  readonly waitingForInput?: (ignore?: ReadonlySet<number>) => boolean | null;
  readonly usage?: () => HandleUsage;
  private readonly bwrapPid: number | null;
  private readonly pgid: number | null;
  /** The sandbox's init (host pid), remembered once seen: kill() must work after the outer bwrap is gone. */
  private init: number | undefined;

  constructor(
    private readonly inner: ProcessHandle,
    private readonly spec: SandboxSpec,
    private readonly options: SandboxHandleOptions,
  ) {
    this.stdout = inner.stdout;
    this.stderr = inner.stderr;
    this.stdin = inner.stdin;
    this.exit = inner.exit;
    this.pty = inner.pty;
    if (inner.resize) this.resize = (size) => inner.resize!(size);
    // The outer bwrap and the sandbox's init hold the command's stdin (or terminal) and sit in poll/wait for the whole
    // run: taken for readers, they would make every sandboxed interactive execution "waiting for input" at once.
    if (inner.waitingForInput) this.waitingForInput = (ignore) => inner.waitingForInput!(this.bwrapProcesses(ignore));
    if (inner.usage) this.usage = () => inner.usage!();
    const d = inner.describe();
    this.bwrapPid = d.pid;
    this.pgid = d.pgid;
  }

  /** `ignore` plus bwrap's own processes (the outer one and, once it exists, the namespace's init). */
  private bwrapProcesses(ignore?: ReadonlySet<number>): ReadonlySet<number> {
    const pids = new Set(ignore);
    if (this.bwrapPid !== null) pids.add(this.bwrapPid);
    const init = this.sandboxInit();
    if (init !== undefined) pids.add(init);
    return pids;
  }

  private sandboxInit(): number | undefined {
    if (this.init === undefined && this.bwrapPid !== null) this.init = findSandboxInit(this.bwrapPid);
    return this.init;
  }

  /** Members outside the process group (they called setsid), which a group signal misses. */
  private escapees(): number[] {
    if (!this.options.reachEscapees || this.bwrapPid === null) return [];
    this.sandboxInit();
    return listSandboxMembers(this.bwrapPid)
      .filter((m) => !m.init && readPgid(m.pid) !== this.pgid)
      .map((m) => m.pid);
  }

  signal(sig: NodeJS.Signals): boolean {
    const escapees = this.escapees();
    const reached = this.inner.signal(sig);
    let extra = false;
    for (const pid of escapees) extra = sendTo(pid, sig) || extra;
    return reached || extra;
  }

  async pause(): Promise<void> {
    const escapees = this.escapees();
    await this.inner.pause();
    for (const pid of escapees) sendTo(pid, 'SIGSTOP');
  }

  async resume(): Promise<void> {
    const escapees = this.escapees();
    for (const pid of escapees) sendTo(pid, 'SIGCONT');
    await this.inner.resume();
  }

  async terminate(graceMs: number): Promise<boolean> {
    if (!this.options.reachEscapees) return this.inner.terminate(graceMs);
    // Like the group's terminate, but the TERM also reaches members that left the group, so they can clean up
    // before the end of the namespace kills them.
    if (!this.isAlive()) return true;
    this.signal('SIGTERM');
    this.signal('SIGCONT');
    if (await this.waitGone(graceMs)) return true;
    this.kill();
    return this.waitGone(KILL_WAIT_MS);
  }

  kill(): void {
    const init = this.sandboxInit();
    // The init's death ends the namespace: every member dies, whatever group or session it is in.
    if (init !== undefined) sendTo(init, 'SIGKILL');
    this.inner.kill();
  }

  isAlive(): boolean {
    return this.inner.isAlive();
  }

  waitGone(timeoutMs = Infinity): Promise<boolean> {
    return pollUntilGone(() => this.isAlive(), timeoutMs, POLL_MS);
  }

  memberCount(): number {
    return this.inner.memberCount();
  }

  describe(): HandleDescription {
    return { ...this.inner.describe(), sandbox: { network: this.spec.network, writableRoots: this.spec.writableRoots } };
  }
}
