// Bench roles: small Node programs (bench/roles/*) forked as separate processes, talking to the bench over IPC.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildSet } from './children.js';

/** A message a role sends: `{ type: 'ready' | 'result' | 'error', ... }`. */
export interface RoleMessage {
  type: string;
  [key: string]: unknown;
}

export class RoleProcess {
  private readonly queue: RoleMessage[] = [];
  private waiter: ((m: RoleMessage | Error) => void) | undefined;
  private exitError: Error | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (m) => this.push(m as RoleMessage));
    child.once('exit', (code, signal) => {
      this.exitError = new Error(`role ${name} exited (code ${code}, signal ${signal}) before answering`);
      this.waiter?.(this.exitError);
    });
  }

  private push(m: RoleMessage): void {
    if (this.waiter) this.waiter(m);
    else this.queue.push(m);
  }

  /** The next message of `type`; an 'error' message, an early exit or the timeout rejects. */
  async next<T extends RoleMessage>(type: string, timeoutMs: number): Promise<T> {
    for (;;) {
      const m = this.queue.shift() ?? (await this.receive(timeoutMs));
      if (m.type === 'error') throw new Error(`role ${this.name}: ${String(m.message)}`);
      if (m.type === type) return m as T;
    }
  }

  private receive(timeoutMs: number): Promise<RoleMessage> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`role ${this.name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (m instanceof Error) reject(m);
        else resolve(m);
      };
    });
  }

  send(message: RoleMessage): void {
    this.child.send(message);
  }
}

/** Fork `dist/bench/roles/<name>.js` with `args` (passed as one JSON argument). */
export function startRole(children: ChildSet, name: string, args: Record<string, unknown>): RoleProcess {
  const path = fileURLToPath(new URL(`../roles/${name}.js`, import.meta.url));
  return new RoleProcess(name, children.fork(path, [JSON.stringify(args)]));
}

/** Run a role that answers once with a 'result', then stop it. */
export async function runRole<T extends RoleMessage>(
  children: ChildSet,
  name: string,
  args: Record<string, unknown>,
  timeoutMs: number,
): Promise<T> {
  const role = startRole(children, name, args);
  try {
    return await role.next<T>('result', timeoutMs);
  } finally {
    await children.stop(role.child, 1_000);
  }
}
