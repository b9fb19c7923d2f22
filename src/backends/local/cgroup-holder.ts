// Holds one execution's processes in its cgroup: signals, freeze-based pause, terminate that waits for
// `populated 0`, usage, and removal of the cgroup once everything in it is gone.
import type { HandleUsage } from '../backend.js';
import type { Cgroup } from './cgroup.js';

/** How long a kill may take to empty the cgroup before terminate reports that something survived. */
const KILL_WAIT_MS = 5_000;

/**
 * The cgroup side of a local ProcessHandle. The leader is spawned through `cgroup.wrap()`; until it has
 * entered (its first instruction) it is reached through its pid, which stays ours until it is reaped.
 */
export class CgroupHolder {
  private leaderExited = false;
  private removed = false;
  private finalUsage: HandleUsage | null = null;

  constructor(
    readonly cgroup: Cgroup,
    readonly leaderPid: number,
    leaderExit: Promise<unknown>,
  ) {
    void leaderExit.then(() => {
      this.leaderExited = true;
      this.settle();
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
    let sent = this.cgroup.signal(sig);
    if (!this.leaderExited) sent = this.signalLeader(sig) || sent;
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
    await this.cgroup.freeze();
  }

  async resume(): Promise<void> {
    if (this.removed) return;
    await this.cgroup.thaw();
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
    await this.cgroup.thaw(1_000);
    this.signal('SIGTERM');
    if (await this.waitGone(graceMs)) return true;
    this.kill();
    return this.waitGone(KILL_WAIT_MS);
  }

  /** Resolves true once the leader has exited and the cgroup is empty, false if timeoutMs passes first. */
  async waitGone(timeoutMs = Infinity): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.isAlive()) {
      if (Date.now() >= until) return false;
      // The cgroup may be empty while the leader's exit has not been delivered yet: poll both.
      await this.cgroup.waitEmpty(Math.min(until - Date.now(), 50));
      if (!this.leaderExited) await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  /** CPU time and peak memory so far (the last reading once the cgroup is removed). */
  usage(): HandleUsage {
    return this.finalUsage ?? this.cgroup.usage();
  }

  /** Times a limit made the kernel act (an OOM kill, a refused fork). */
  limitEvents(): { oomKills: number; pidsMaxHits: number } {
    return this.removed ? (this.finalEvents ?? { oomKills: 0, pidsMaxHits: 0 }) : this.cgroup.limitEvents();
  }

  private finalEvents: { oomKills: number; pidsMaxHits: number } | null = null;

  /** Once the leader is gone and the cgroup is empty: keep the last usage, then rmdir. True when gone. */
  private settle(): boolean {
    if (this.removed) return true;
    if (!this.leaderExited || this.cgroup.populated()) return false;
    this.finalUsage = this.cgroup.usage();
    this.finalEvents = this.cgroup.limitEvents();
    this.removed = this.cgroup.remove();
    return true;
  }

  describe(): { containment: 'cgroup'; cgroup: string } {
    return { containment: 'cgroup', cgroup: this.cgroup.path };
  }
}
