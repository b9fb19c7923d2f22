// What an execution keeps of its process handle once it is final and nothing it started is alive: the facts.
import { Readable } from 'node:stream';
import type { HandleDescription, HandleExit, HandleUsage, ProcessHandle, PtySize } from '../backends/backend.js';

/**
 * Stands in for a handle whose processes are all gone, so the real one (its closed pipe sockets, the child
 * process object, execa's state, the cgroup holder) can be collected: a finished execution is kept in memory
 * for `status` long after that. Answers as the real handle would for a group that is gone: nothing alive,
 * no signal delivered, the description and last usage as they were.
 */
export class FinishedHandle implements ProcessHandle {
  readonly stdin = null;
  readonly stderr = null;
  readonly exit: Promise<HandleExit>;
  readonly pty: PtySize | null;
  private readonly description: HandleDescription;
  private readonly lastUsage: HandleUsage | null;

  constructor(handle: ProcessHandle) {
    this.exit = handle.exit;
    this.pty = handle.pty;
    this.description = handle.describe();
    this.lastUsage = handle.usage?.() ?? null;
    if (!handle.usage) this.usage = undefined;
  }

  /** An ended stream: the output was read to its end before the handle was retired. */
  get stdout(): Readable {
    return Readable.from([]);
  }

  signal(): boolean {
    return false;
  }

  pause(): Promise<void> {
    return Promise.resolve();
  }

  resume(): Promise<void> {
    return Promise.resolve();
  }

  terminate(): Promise<boolean> {
    return Promise.resolve(true);
  }

  kill(): void {}

  isAlive(): boolean {
    return false;
  }

  waitGone(): Promise<boolean> {
    return Promise.resolve(true);
  }

  memberCount(): number {
    return 0;
  }

  usage?: () => HandleUsage = () => this.lastUsage ?? { cpuMs: null, memoryPeakBytes: null };

  describe(): HandleDescription {
    return this.description;
  }
}
