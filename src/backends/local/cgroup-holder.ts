// Holds one execution's processes in its cgroup: signals, freeze-based pause, terminate that waits for
// `populated 0`, usage, and removal of the cgroup once everything in it is gone.
import { setTimeout as delay } from 'node:timers/promises';
import type { HandleUsage } from '../backend.js';
import type { Cgroup } from './cgroup.js';

/** How long a kill may take to empty the cgroup before terminate reports that something survived. */
const KILL_WAIT_MS = 5_000;
/** Members that outlive their leader: cgroup.events is re-read this often at first, then less often. */
const LINGER_POLL_MS = 15;
const LINGER_POLL_MAX_MS = 200;
/** How long a live usage reading is reused (the final one, read when the cgroup empties, is always fresh). */
const LIVE_USAGE_MS = 50;

/**
 * The cgroup side of a local ProcessHandle. The leader is spawned through `cgroup.wrap()`; until it has
 * entered (its first instruction) it is reached through its pid, which stays ours until it is reaped.
 */
export class CgroupHolder {
  private leaderExited = false;
  private removed = false;
  private finalUsage: HandleUsage | null = null;
  /** Set by pause(), cleared by a thaw: terminate skips the thaw (a write and a read) of a never-frozen cgroup. */
  private mayBeFrozen = false;
  private readonly leaderExit: Promise<unknown>;
  /** The last live usage reading and when it was made (performance.now()). */
  private liveUsage: { usage: HandleUsage; at: number } | undefined;

  constructor(
    readonly cgroup: Cgroup,
    readonly leaderPid: number,
    leaderExit: Promise<unknown>,
  ) {
    this.leaderExit = leaderExit;
    void leaderExit.then(() => {
      this.leaderExited = true;
      this.settle(true);
    });
  }

  /** True while the leader runs or anything lives in the cgroup. */
  isAlive(): boolean {
    if (!this.leaderExited) return true;
    return !this.settle();
  }

  /** Live members (the leader counts before it has entered). */
  memberCount(): number {
    if (this.removed) return 0;
    const members = this.cgroup.members();
    if (!this.leaderExited && !members.includes(this.leaderPid)) return members.length + 1;
    return members.length;
  }

  /** Every member gets the signal. False when nothing is left to receive it. */
  signal(sig: NodeJS.Signals | number): boolean {
    if (!this.isAlive()) return false;
    const members = this.cgroup.members();
    let sent = this.cgroup.signal(sig, members);
    // Before it has entered the cgroup the leader is reached through its pid (once: not twice when it is in).
    if (!this.leaderExited && !members.includes(this.leaderPid)) sent = this.signalLeader(sig) || sent;
    return sent;
  }

  private signalLeader(sig: NodeJS.Signals | number): boolean {
    try {
      process.kill(this.leaderPid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** Freeze the cgroup: every member stops at once, none can fork or notice (no SIGSTOP for a shell to see). */
  async pause(): Promise<void> {
    if (!this.isAlive()) return;
    this.mayBeFrozen = true;
    await this.cgroup.freeze();
  }

  async resume(): Promise<void> {
    if (this.removed) return;
    if (await this.cgroup.thaw()) this.mayBeFrozen = false;
  }

  /** SIGKILL everything now (cgroup.kill is atomic against forks; works on a frozen cgroup). */
  kill(): void {
    if (this.removed) return;
    this.cgroup.kill();
    if (!this.leaderExited) this.signalLeader('SIGKILL');
  }

  /**
   * TERM every member (thawed first so a paused one can act on it), wait up to graceMs for the cgroup to
   * empty, then kill it. Resolves true once nothing is alive, false if something survived the kill.
   */
  async terminate(graceMs: number): Promise<boolean> {
    if (!this.isAlive()) return true;
    if (this.mayBeFrozen && (await this.cgroup.thaw(1_000))) this.mayBeFrozen = false;
    this.signal('SIGTERM');
    if (await this.waitGone(graceMs)) return true;
    this.kill();
    return this.waitGone(KILL_WAIT_MS);
  }

  /**
   * Resolves true once the leader has exited and the cgroup is empty, false if timeoutMs passes first.
   * The leader's exit event first (no read at all while it runs: a thousand waiters each polling
   * cgroup.events every few ms saturate the event loop at shutdown), then `populated` in cgroup.events,
   * re-read less and less often while members linger.
   */
  async waitGone(timeoutMs = Infinity): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    if (!this.leaderExited && !(await this.leaderExitWithin(timeoutMs))) return false;
    let pollMs = LINGER_POLL_MS;
    while (this.isAlive()) {
      const left = until - Date.now();
      if (left <= 0) return false;
      await delay(Math.min(pollMs, left));
      pollMs = Math.min(pollMs * 2, LINGER_POLL_MAX_MS);
    }
    return true;
  }

  /** True once the leader's exit has been delivered (and settled), false if `timeoutMs` passes first. */
  private async leaderExitWithin(timeoutMs: number): Promise<boolean> {
    // The constructor's own handler runs first (registered first): leaderExited is set when this resolves.
    const exited = this.leaderExit.then(() => true);
    if (!Number.isFinite(timeoutMs)) return exited;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        exited,
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs)))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * CPU time and peak memory so far (the last reading once the cgroup is removed). A live reading is reused
   * for LIVE_USAGE_MS: right after a spawn the first record, the metrics and the execute tool each took a
   * snapshot within a millisecond, each reading cpu.stat (four system calls) while the command ran.
   */
  usage(): HandleUsage {
    if (this.finalUsage) return this.finalUsage;
    const now = performance.now();
    if (this.liveUsage === undefined || now - this.liveUsage.at >= LIVE_USAGE_MS) this.liveUsage = { usage: this.cgroup.usage(), at: now };
    return this.liveUsage.usage;
  }

  /**
   * Once the leader is gone and the cgroup is empty: keep the last usage, then rmdir. True when gone.
   * `atLeaderExit`: the usual cgroup is empty when its leader exits, so the rmdir itself asks (EBUSY while
   * anything lives in it), without reading cgroup.events first: one file read less between the exit and
   * execute's answer. Later calls (members that outlive the leader, polled) read `populated` first, which
   * costs less than a failed rmdir's exception.
   */
  private settle(atLeaderExit = false): boolean {
    if (this.removed) return true;
    if (!this.leaderExited || (!atLeaderExit && this.cgroup.populated())) return false;
    const usage = this.cgroup.usage();
    const removed = this.cgroup.remove();
    // At the leader's exit a failed rmdir is the answer "still populated": members are polled from here on.
    if (atLeaderExit && !removed) return false;
    this.finalUsage = usage;
    this.removed = removed;
    return true;
  }

  describe(): { containment: 'cgroup'; cgroup: string } {
    return { containment: 'cgroup', cgroup: this.cgroup.path };
  }
}
