// Cgroup containment for any local handle kind (pipes, PTY): the launch enters a fresh cgroup before its first
// instruction, and every containment operation of the handle goes to that cgroup.
import { join } from 'node:path';
import type { HandleDescription, HandleUsage, Launch, ProcessHandle, PtySize, ResourceLimits } from '../backend.js';
import type { Cgroup } from './cgroup.js';
import { CgroupHolder } from './cgroup-holder.js';
import { findExecutable } from './find-executable.js';
import type { CgroupTree } from './cgroup-tree.js';
import type { HandleFactory } from './local-backend.js';

/** A handle of another kind (streams, exit, terminal) whose processes are held by a cgroup. */
export class CgroupHandle implements ProcessHandle {
  constructor(
    private readonly inner: ProcessHandle,
    readonly holder: CgroupHolder,
  ) {
    if (inner.resize) this.resize = (size: PtySize) => inner.resize!(size);
    if (inner.waitingForInput) this.waitingForInput = (ignore) => inner.waitingForInput!(ignore);
  }

  readonly resize?: (size: PtySize) => void;
  readonly waitingForInput?: (ignore?: ReadonlySet<number>) => boolean | null;

  get stdout() {
    return this.inner.stdout;
  }
  get stderr() {
    return this.inner.stderr;
  }
  get stdin() {
    return this.inner.stdin;
  }
  get exit() {
    return this.inner.exit;
  }
  get pty() {
    return this.inner.pty;
  }

  signal(sig: NodeJS.Signals): boolean {
    return this.holder.signal(sig);
  }
  pause(): Promise<void> {
    return this.holder.pause();
  }
  resume(): Promise<void> {
    return this.holder.resume();
  }
  terminate(graceMs: number): Promise<boolean> {
    return this.holder.terminate(graceMs);
  }
  kill(): void {
    this.holder.kill();
  }
  isAlive(): boolean {
    return this.holder.isAlive();
  }
  waitGone(timeoutMs?: number): Promise<boolean> {
    return this.holder.waitGone(timeoutMs);
  }
  memberCount(): number {
    return this.holder.memberCount();
  }
  usage(): HandleUsage {
    return this.holder.usage();
  }
  describe(): HandleDescription {
    return { ...this.inner.describe(), ...this.holder.describe() };
  }
}

/**
 * Fork a launch inside `cg` through a factory's helper (the fork server moves itself in and back); when it could
 * not move back, `cg` is marked as holding it (never killed) and forkInto-style entry stops for later launches.
 */
async function spawnInCgroupBy(
  spawnIn: NonNullable<HandleFactory['spawnInCgroup']>,
  launch: Launch,
  cg: Cgroup,
  tree: CgroupTree,
): Promise<{ result: ProcessHandle; stuck: boolean }> {
  const { handle, stuck } = await spawnIn(launch, { procs: join(cg.path, 'cgroup.procs'), home: tree.ownProcsPath() });
  if (stuck) tree.markHolding(cg, `the fork server could not move back to its cgroup from ${cg.path}`);
  return { result: handle, stuck };
}

/** True when a launch asks for no cgroup limit (forkInto may then carry the server into its cgroup). */
function hasLimits(limits: ResourceLimits | undefined): boolean {
  return limits !== undefined && Object.values(limits).some((v) => v !== undefined);
}

/**
 * Wrap a handle factory so every launch runs in its own cgroup under the server's tree: created (with its
 * limits) before the spawn, holding the launch from its first instruction (outermost: outside any sandbox),
 * removed once everything in it is gone. Two ways in: a launch without limits from a factory that forks in
 * its call is forked inside the cgroup (CgroupTree.forkInto: no extra process); any other enters through
 * the shell wrapper of Cgroup.wrap (one more exec).
 */
export function cgroupFactory(inner: HandleFactory, tree: CgroupTree): HandleFactory {
  return {
    name: `${inner.name}+cgroup`,
    accepts: (launch) => inner.accepts(launch),
    async spawn(launch) {
      const limits = launch.plan.limits ?? {};
      const direct =
        (inner.forksInCall === true || inner.spawnInCgroup !== undefined) && tree.forkIntoProblem === undefined && !hasLimits(limits);
      // Behind `sh -c '... exec "$@"'` a program that cannot be exec'd would be exit 126/127 and a message
      // naming the wrapper: look it up first (relative to the launch's cwd, as exec will), so it is the
      // SPAWN_FAILED with errno that a launch without a cgroup gives. A direct fork gets that errno itself.
      if (!direct) findExecutable(launch.file, launch.env.PATH ?? '', launch.cwd);
      const cg = tree.create(launch.plan.id, limits);
      let handle: ProcessHandle;
      try {
        if (direct) {
          const { result, stuck } = inner.spawnInCgroup
            ? await spawnInCgroupBy((l, c) => inner.spawnInCgroup!(l, c), launch, cg, tree)
            : tree.forkInto(cg, () => inner.spawn(launch));
          handle = await result;
          if (stuck) {
            // The server could not leave the cgroup: the command must not run in a cgroup it shares.
            handle.kill();
            throw new Error(`could not start ${launch.file} in its cgroup: ${tree.forkIntoProblem ?? 'the server is stuck in it'}`);
          }
        } else {
          handle = await inner.spawn({ ...launch, ...cg.wrap(launch.file, launch.args) });
        }
      } catch (e) {
        cg.remove();
        throw e;
      }
      const pid = handle.describe().pid;
      if (pid === null) throw new Error('the spawned handle has no pid');
      return new CgroupHandle(handle, new CgroupHolder(cg, pid, handle.exit));
    },
  };
}
