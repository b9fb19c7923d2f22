// The server's own cgroup v2 subtree: found or refused at start, one child cgroup per execution, and what a
// dead predecessor on the same data dir left behind.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { ResourceLimits } from '../backend.js';
import { Cgroup } from './cgroup.js';

/** Controllers whose limits we offer, by the limit that needs them. */
export const LIMIT_CONTROLLERS: Record<keyof ResourceLimits, string> = {
  memoryMaxBytes: 'memory',
  pidsMax: 'pids',
  cpuMax: 'cpu',
};

/** Where the kernel's files are, for tests that point detection at fakes. */
export interface CgroupSources {
  procSelfCgroup: string;
  mountinfo: string;
}

const PROC_SOURCES: CgroupSources = { procSelfCgroup: '/proc/self/cgroup', mountinfo: '/proc/self/mountinfo' };

/** What a dead predecessor left: one execution's cgroup, killed and removed (or not removable). */
export interface Leftover {
  executionId: string;
  path: string;
  /** Something was still running in it. */
  hadMembers: boolean;
  removed: boolean;
}

export type CgroupDetection = { ok: true; tree: CgroupTree } | { ok: false; reason: string };

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The server's cgroup in the unified hierarchy (`0::/path` in /proc/self/cgroup), or undefined without one. */
export function ownCgroupPath(text: string): string | undefined {
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3);
  return undefined;
}

/** Mount points of cgroup2 file systems (fstype after the " - " separator), each with its root. */
export function cgroup2Mounts(mountinfo: string): Array<{ root: string; mountPoint: string }> {
  const mounts: Array<{ root: string; mountPoint: string }> = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0 || !line.slice(sep + 3).startsWith('cgroup2 ')) continue;
    const fields = line.slice(0, sep).split(' ');
    const root = fields[3];
    const mountPoint = fields[4];
    // mountinfo escapes spaces and the like as octal (\040).
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (root !== undefined && mountPoint !== undefined) mounts.push({ root: unescape(root), mountPoint: unescape(mountPoint) });
  }
  return mounts;
}

/** Clock-tick start time of a pid (field 22 of /proc/<pid>/stat), undefined if it does not exist or is a zombie. */
function startTicksOf(pid: number): number | undefined {
  const text = readOrEmpty(`/proc/${pid}/stat`);
  if (text === '') return undefined;
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return Number(rest[19]);
}

/**
 * `<own cgroup>/cc-executor-<hash of the data dir>/<server pid>-<start ticks>/<execution id>`. The data-dir
 * hash lets a restarted server find its predecessor's leftovers while parallel servers (other data dirs)
 * never meet; the server level makes sure that a second live server on the same data dir is never touched.
 */
export class CgroupTree {
  /**
   * Why forkInto cannot be used (the probe at start, or a failed move back since): launches then enter
   * through the shell wrapper. Undefined while it can.
   */
  forkIntoProblem: string | undefined;
  /** Execution cgroups this server could not leave (see forkInto): never killed, frozen or removed by it. */
  private readonly holdingServer = new Set<string>();
  /**
   * Kept open for forkInto, which runs before every spawn: /proc/self/cgroup (re-read with a pread at offset 0,
   * which the kernel answers afresh) and the server's own cgroup.procs (each write is one move). Opening,
   * reading and closing them per spawn cost six system calls more, ~0.4 ms on the path to the fork.
   */
  private selfCgroupFd: number | undefined;
  private homeProcs: { dir: string; fd: number } | undefined;
  private readonly selfCgroupBuf = Buffer.alloc(4096);

  private constructor(
    /** cc-executor-<hash>: shared by every server that used this data dir. */
    readonly dataDirRoot: string,
    /** This server's level, parent of every execution cgroup it creates. */
    readonly serverDir: string,
    /** Controllers enabled for execution cgroups (memory, pids, cpu, ... as the kernel and delegation allow). */
    readonly controllers: ReadonlySet<string>,
    readonly hasKillFile: boolean,
    /** Why some limit controllers are missing (for the error a limit request gets). */
    readonly controllersNote: string,
    /** The cgroup2 mount this server's own cgroup is under: where forkInto moves it back to. */
    private readonly mount: { root: string; mountPoint: string },
    private readonly sources: CgroupSources,
  ) {}

  /**
   * Find a writable cgroup2 hierarchy and create this server's level in it, or say why not (one line).
   * Proves the setup with a real launch: a shell enters a probe cgroup exactly as commands will.
   */
  static detect(dataDir: string, sources: CgroupSources = PROC_SOURCES): CgroupDetection {
    const own = ownCgroupPath(readOrEmpty(sources.procSelfCgroup));
    if (own === undefined) return { ok: false, reason: 'no cgroup v2 (unified) hierarchy in /proc/self/cgroup' };
    const mounts = cgroup2Mounts(readOrEmpty(sources.mountinfo));
    // The mount whose root contains our cgroup; prefer pure v2 at /sys/fs/cgroup, then the hybrid unified.
    const rank = (m: string) => (m === '/sys/fs/cgroup' ? 0 : m === '/sys/fs/cgroup/unified' ? 1 : 2);
    const mount = mounts
      .filter((m) => m.root === '/' || own === m.root || own.startsWith(`${m.root}/`))
      .sort((a, b) => rank(a.mountPoint) - rank(b.mountPoint))[0];
    if (!mount) return { ok: false, reason: 'no cgroup2 file system is mounted' };
    const rel = mount.root === '/' ? own : own.slice(mount.root.length);
    const base = join(mount.mountPoint, rel);
    if (!existsSync(join(base, 'cgroup.procs'))) return { ok: false, reason: `own cgroup ${base} is not visible (cgroup namespace?)` };

    let real: string;
    try {
      real = realpathSync(dataDir);
    } catch {
      real = resolve(dataDir);
    }
    const hash = createHash('sha256').update(real).digest('hex').slice(0, 12);
    const dataDirRoot = join(base, `cc-executor-${hash}`);
    const serverDir = join(dataDirRoot, `${process.pid}-${startTicksOf(process.pid) ?? 0}`);
    sweepAbandonedLevels(base, dataDirRoot);
    try {
      try {
        mkdirSync(serverDir, { recursive: true });
      } catch (e) {
        // Another server's sweep may have removed the (then empty) data-dir level between the two mkdirs: once more.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        mkdirSync(serverDir, { recursive: true });
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      return {
        ok: false,
        reason: `cannot create a cgroup under ${base} (${code}): run as root, or in a delegated cgroup (systemd Delegate=yes)`,
      };
    }
    const { enabled, note } = enableControllers([base, dataDirRoot, serverDir]);
    const tree = new CgroupTree(dataDirRoot, serverDir, enabled, existsSync(join(serverDir, 'cgroup.kill')), note, mount, sources);
    const probeProblem = tree.probe();
    if (probeProblem) {
      void tree.close();
      return { ok: false, reason: probeProblem };
    }
    tree.forkIntoProblem = tree.probeForkInto();
    return { ok: true, tree };
  }

  /** Launch a shell into a probe cgroup the way commands will be launched; a one-line problem, or undefined. */
  private probe(): string | undefined {
    const cg = new Cgroup(join(this.serverDir, 'probe'));
    try {
      mkdirSync(cg.path);
    } catch (e) {
      return `cannot create cgroups under ${this.serverDir}: ${(e as Error).message}`;
    }
    try {
      const { file, args } = cg.wrap('/bin/true', []);
      const r = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0) {
        const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim();
        return `a process cannot move into a cgroup under ${this.serverDir} (${why}): the server needs write access to its own cgroup's cgroup.procs`;
      }
      return undefined;
    } finally {
      cg.kill();
      cg.remove();
    }
  }

  /**
   * Fork a process into a probe cgroup the way forkInto will, and check that it started there and that this
   * server is back in its own cgroup; a one-line problem, or undefined.
   */
  private probeForkInto(): string | undefined {
    const cg = new Cgroup(join(this.serverDir, 'probe-fork'));
    try {
      mkdirSync(cg.path);
    } catch (e) {
      return `cannot create cgroups under ${this.serverDir}: ${(e as Error).message}`;
    }
    try {
      const home = this.ownCgroupDir();
      const { result: r } = this.forkInto(cg, () => spawnSync('/bin/cat', ['/proc/self/cgroup'], { encoding: 'utf8', timeout: 10_000 }));
      if (this.ownCgroupDir() !== home) return `the server did not return to its cgroup ${home ?? '(unknown)'}`;
      const seen = ownCgroupPath(r.stdout ?? '');
      const expected = cg.path.slice(this.mount.mountPoint.length);
      if (seen === undefined || !seen.endsWith(expected))
        return `a forked process started in ${seen ?? 'an unknown cgroup'}, not in ${cg.path}`;
      return undefined;
    } catch (e) {
      return (e as Error).message;
    } finally {
      // Never a cgroup the server is stuck in: cgroup.kill would kill the server.
      if (!this.holdingServer.has(cg.path)) {
        cg.kill();
        cg.remove();
      }
    }
  }

  /** This process's own cgroup directory now (re-read: something may have moved the server since start). */
  private ownCgroupDir(): string | undefined {
    const own = ownCgroupPath(this.readSelfCgroup());
    if (own === undefined) return undefined;
    const { root, mountPoint } = this.mount;
    if (root !== '/' && own !== root && !own.startsWith(`${root}/`)) return undefined;
    return join(mountPoint, root === '/' ? own : own.slice(root.length));
  }

  /** /proc/self/cgroup now, through the descriptor kept open ('' when it cannot be read). */
  private readSelfCgroup(): string {
    try {
      this.selfCgroupFd ??= openSync(this.sources.procSelfCgroup, 'r');
      const n = readSync(this.selfCgroupFd, this.selfCgroupBuf, 0, this.selfCgroupBuf.length, 0);
      if (n < this.selfCgroupBuf.length) return this.selfCgroupBuf.toString('utf8', 0, n);
    } catch {
      // fall back to a plain read below
    }
    return readOrEmpty(this.sources.procSelfCgroup);
  }

  /** Move this process into `dir` (its own cgroup) through the cgroup.procs descriptor kept open for it. */
  private returnHome(dir: string): void {
    if (this.homeProcs?.dir !== dir) {
      this.closeHomeProcs();
      this.homeProcs = { dir, fd: openSync(join(dir, 'cgroup.procs'), 'w') };
    }
    writeSync(this.homeProcs.fd, String(process.pid));
  }

  private closeHomeProcs(): void {
    if (this.homeProcs) closeSync(this.homeProcs.fd);
    this.homeProcs = undefined;
  }

  /**
   * Run `fork` with this server process inside `cg`, then move the server back to its own cgroup. A process
   * that `fork` creates synchronously starts in `cg` (a child inherits its parent's cgroup at fork), so the
   * command runs there from its first instruction without the shell wrapper of `Cgroup.wrap`, whose extra
   * exec is the largest single cost of a short execution (docs/performance.md, round trip). Both moves of the
   * server together take about 0.1 ms.
   *
   * Only for forks made synchronously inside the call, on the main thread (the server spawns only there: no
   * other thread can fork while it is inside), and only into a cgroup without limits: while the server is
   * inside, its threads count towards pids.max and its allocations towards memory.max (an OOM kill there
   * could pick the server). Throws when the server cannot enter `cg` (nothing was forked then), and what
   * `fork` throws. If the server cannot move back, `cg` is marked as holding it (never killed or removed by
   * this tree), forkInto is disabled, and `stuck` is true: the caller must stop what it forked by pid and fail.
   */
  forkInto<T>(cg: Cgroup, fork: () => T): { result: T; stuck: boolean } {
    const home = this.ownCgroupDir();
    if (home === undefined) throw new Error("cannot find this server's own cgroup in /proc/self/cgroup");
    cg.write('cgroup.procs', String(process.pid));
    let result: T;
    let stuck = false;
    try {
      result = fork();
    } finally {
      try {
        this.returnHome(home);
      } catch (e) {
        this.closeHomeProcs();
        this.holdingServer.add(cg.path);
        this.forkIntoProblem = `the server could not move back to its cgroup ${home}: ${(e as Error).message}`;
        stuck = true;
      }
    }
    return { result, stuck };
  }

  /**
   * The cgroup.procs of this server's own cgroup: where a helper started by the server (the fork server) lives
   * too, and returns to after forking a command inside an execution's cgroup.
   */
  ownProcsPath(): string {
    const home = this.ownCgroupDir();
    if (home === undefined) throw new Error("cannot find this server's own cgroup in /proc/self/cgroup");
    return join(home, 'cgroup.procs');
  }

  /**
   * A helper of this server (the fork server) could not leave `cg`: like forkInto's stuck case, `cg` is never
   * killed, frozen or removed by this tree (that would kill the helper), and later launches enter through the
   * shell wrapper.
   */
  markHolding(cg: Cgroup, problem: string): void {
    this.holdingServer.add(cg.path);
    this.forkIntoProblem = problem;
  }

  /** The cgroup for one execution, created (with its limits) before anything is spawned into it. */
  create(executionId: string, limits: ResourceLimits = {}): Cgroup {
    const path = join(this.serverDir, executionId);
    mkdirSync(path);
    const cg = new Cgroup(path, this.hasKillFile, this.controllers);
    try {
      cg.applyLimits(limits);
    } catch (e) {
      cg.remove();
      throw e;
    }
    return cg;
  }

  /** The cgroup an execution of this server ran in (for recovery from a record: it may be gone). */
  cgroupAt(path: string): Cgroup | undefined {
    // Only ever a path inside our data dir's subtree: a record must not make us kill a stranger's cgroup.
    if (!path.startsWith(`${this.dataDirRoot}/`)) return undefined;
    return new Cgroup(path, this.hasKillFile);
  }

  /** Why a limit cannot be enforced here, or undefined when its controller is enabled. */
  unsupportedLimit(limit: keyof ResourceLimits): string | undefined {
    const controller = LIMIT_CONTROLLERS[limit];
    if (this.controllers.has(controller)) return undefined;
    return `${limit} needs the cgroup v2 ${controller} controller, which is not enabled for cc-executor's cgroup subtree${this.controllersNote}`;
  }

  /**
   * Kill and remove every execution cgroup left by dead servers on this data dir (their level is named by
   * pid and start time, so a live server's is never touched), waiting up to graceMs for each to empty.
   */
  async recoverLeftovers(graceMs = 5_000): Promise<Leftover[]> {
    const found: Leftover[] = [];
    for (const level of listDirs(this.dataDirRoot)) {
      const path = join(this.dataDirRoot, level);
      if (path === this.serverDir) continue;
      if (!isDeadServerLevel(level)) continue; // not a level, or its server is alive
      const cgroups = listDirs(path).map((id) => {
        const cg = new Cgroup(join(path, id), this.hasKillFile);
        return { id, cg, hadMembers: cg.populated() };
      });
      // Kill all first, then wait: leftovers die in parallel.
      for (const { cg, hadMembers } of cgroups) if (hadMembers) cg.kill();
      for (const { id, cg, hadMembers } of cgroups) {
        if (hadMembers) await cg.waitEmpty(graceMs);
        found.push({ executionId: id, path: cg.path, hadMembers, removed: cg.remove() });
      }
      new Cgroup(path).remove();
    }
    return found;
  }

  /** SIGKILL everything in every execution cgroup of this server, synchronously (a process 'exit' handler). */
  killAllNow(): void {
    for (const id of this.executionDirs()) new Cgroup(join(this.serverDir, id), this.hasKillFile).kill();
  }

  /** The execution cgroups of this server, but never one the server itself is stuck in (forkInto). */
  private executionDirs(): string[] {
    return listDirs(this.serverDir).filter((id) => !this.holdingServer.has(join(this.serverDir, id)));
  }

  /**
   * Remove this server's level (and the data-dir level unless another server uses it). Anything still alive
   * is killed first; resolves once the directories are gone (or timeoutMs passes).
   */
  async close(timeoutMs = 5_000): Promise<void> {
    this.closeHomeProcs();
    if (this.selfCgroupFd !== undefined) closeSync(this.selfCgroupFd);
    this.selfCgroupFd = undefined;
    this.killAllNow();
    for (const id of this.executionDirs()) {
      const cg = new Cgroup(join(this.serverDir, id), this.hasKillFile);
      await cg.waitEmpty(timeoutMs);
      cg.remove();
    }
    new Cgroup(this.serverDir).remove();
    new Cgroup(this.dataDirRoot).remove(); // EBUSY while another server's level is there: fine
  }
}

/** A server level's name (`<pid>-<start ticks>`) whose server is gone: no live process has that pid and start. */
function isDeadServerLevel(name: string): boolean {
  const match = /^(\d+)-(\d+)$/.exec(name);
  return match !== null && startTicksOf(Number(match[1])) !== Number(match[2]);
}

/** How old an abandoned level must be before another server removes it (sweepAbandonedLevels). */
const ABANDONED_MIN_AGE_MS = 60_000;

/**
 * Remove the empty levels of dead servers under other data dirs' roots (`base/cc-executor-*`), bottom up. A
 * server killed with SIGKILL cannot remove its own level, and only a successor on the same data dir recovers it:
 * a data dir that is never used again (a test's, a one-off `--data-dir`) would leave its empty cgroups behind
 * for good (781 of them on one machine after a day of test runs). Only empty ones go: rmdir refuses a cgroup with
 * members or children, so anything still running there stays for that data dir's successor to kill and report.
 * Our own data dir's root is left to recoverLeftovers, which kills and reports.
 */
function sweepAbandonedLevels(base: string, ownRoot: string, minAgeMs = ABANDONED_MIN_AGE_MS): void {
  const now = Date.now();
  // Nothing touched in the last minute is removed: a dead server's successor may be starting right now (and a
  // test may be building a fake predecessor). cgroupfs dates a directory by its creation, or the last removal of
  // a child in it: so the age of a whole subtree is decided before anything in it is removed.
  const old = (dir: string): boolean => {
    try {
      return now - statSync(dir).mtimeMs >= minAgeMs && listDirs(dir).every((child) => old(join(dir, child)));
    } catch {
      return false;
    }
  };
  const rmdirTree = (dir: string): void => {
    for (const child of listDirs(dir)) rmdirTree(join(dir, child));
    new Cgroup(dir).remove();
  };
  for (const name of listDirs(base)) {
    const root = join(base, name);
    if (!name.startsWith('cc-executor-') || root === ownRoot) continue;
    const rootOld = old(root);
    for (const level of listDirs(root)) {
      if (isDeadServerLevel(level) && old(join(root, level))) rmdirTree(join(root, level));
    }
    // The root goes once it is empty, but never one another server just made (its level comes right after).
    if (rootOld && listDirs(root).length === 0) new Cgroup(root).remove();
  }
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/**
 * Enable memory, pids and cpu down the chain base -> ... -> server level, as far as the kernel and our rights
 * allow. The last level's subtree_control says what execution cgroups get.
 */
function enableControllers(chain: string[]): { enabled: Set<string>; note: string } {
  const wanted = Object.values(LIMIT_CONTROLLERS);
  let note = '';
  for (const dir of chain) {
    const available = readOrEmpty(join(dir, 'cgroup.controllers')).trim().split(/\s+/);
    for (const c of wanted) {
      if (!available.includes(c)) continue;
      try {
        writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
      } catch (e) {
        // EBUSY: the "no internal processes" rule (the server itself lives in a non-root cgroup).
        note ||= ` (enabling it in ${dir} failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      }
    }
  }
  const last = chain[chain.length - 1] ?? '';
  const enabled = new Set(readOrEmpty(join(last, 'cgroup.subtree_control')).trim().split(/\s+/).filter(Boolean));
  if (!note) {
    const missing = wanted.filter((c) => !enabled.has(c));
    if (missing.length > 0)
      note = ` (this kernel's cgroup2 hierarchy offers ${readOrEmpty(join(chain[0] ?? '', 'cgroup.controllers')).trim() || 'no controllers'}; on a hybrid layout ${missing.join(', ')} live in cgroup v1)`;
  }
  return { enabled, note };
}
