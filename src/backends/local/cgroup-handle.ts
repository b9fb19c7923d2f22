// Cgroup containment for any local handle kind (pipes, PTY): the launch enters a fresh cgroup before its first
// instruction, and every containment operation of the handle goes to that cgroup.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { HandleDescription, HandleUsage, ProcessHandle, PtySize } from '../backend.js';
import { CgroupHolder } from './cgroup-holder.js';
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
 * The program the shell wrapper will exec, checked now: behind `sh -c 'exec "$@"'` a missing executable
 * would be exit 127 instead of the SPAWN_FAILED the caller expects. Throws an errno-style error.
 */
function checkExecutable(file: string, env: Record<string, string>): void {
  const candidates = file.includes('/')
    ? [file]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, file));
  let last: NodeJS.ErrnoException | undefined;
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return;
    } catch (e) {
      last = e as NodeJS.ErrnoException;
      if (last.code !== 'ENOENT' && last.code !== 'ENOTDIR') break;
    }
  }
  const err: NodeJS.ErrnoException = new Error(`${file}: ${last?.code ?? 'ENOENT'}`);
  err.code = last?.code ?? 'ENOENT';
  throw err;
}

/**
 * Wrap a handle factory so every launch runs in its own cgroup under the server's tree: created (with its
 * limits) before the spawn, entered by the launch's first instruction (outermost wrapper: outside any sandbox),
 * removed once everything in it is gone.
 */
export function cgroupFactory(inner: HandleFactory, tree: CgroupTree): HandleFactory {
  return {
    name: `${inner.name}+cgroup`,
    accepts: (launch) => inner.accepts(launch),
    async spawn(launch) {
      checkExecutable(launch.file, launch.env);
      const cg = tree.create(launch.plan.id, launch.plan.limits ?? {});
      let handle: ProcessHandle;
      try {
        handle = await inner.spawn({ ...launch, ...cg.wrap(launch.file, launch.args) });
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
