// A test double of our own seam: a backend whose handles the test drives (output, exit), no OS processes involved.
import { PassThrough } from 'node:stream';
import type {
  BackendCapabilities,
  ExecutionBackend,
  HandleDescription,
  HandleExit,
  Launch,
  LaunchPlan,
  ProcessHandle,
  RecoveryResult,
} from '../../src/backends/backend.js';

/** A handle whose output and end the test scripts; it records every signal it is sent. */
export class ScriptedHandle implements ProcessHandle {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin = null;
  readonly pty = null;
  readonly exit: Promise<HandleExit>;
  /** Every signal, pause, resume, terminate and kill, in order. */
  readonly calls: string[] = [];
  /** When set, terminate() ignores the polite stop and only kill() ends it (a command that traps SIGTERM). */
  ignoresTerm = false;
  private alive = true;
  private resolveExit!: (exit: HandleExit) => void;

  constructor(readonly launch: Launch) {
    this.exit = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /** The command prints. */
  print(stream: 'stdout' | 'stderr', data: string | Buffer): void {
    this[stream].write(data);
  }

  /** The command ends: its output streams close and `exit` resolves. */
  end(exitCode: number | null = 0, signal: string | null = null): void {
    if (!this.alive) return;
    this.alive = false;
    this.stdout.end();
    this.stderr.end();
    this.resolveExit({ exitCode, signal });
  }

  /** The leader exits but something still holds the pipes (or its last bytes have not been read yet). */
  exitLeavingPipesOpen(exitCode = 0): void {
    if (!this.alive) return;
    this.alive = false;
    this.resolveExit({ exitCode, signal: null });
  }

  /** Whatever held the pipes lets go of them. */
  closePipes(): void {
    this.stdout.end();
    this.stderr.end();
  }

  signal(sig: NodeJS.Signals): boolean {
    if (!this.alive) return false;
    this.calls.push(sig);
    if (sig === 'SIGKILL' || (sig === 'SIGTERM' && !this.ignoresTerm)) this.end(null, sig);
    return true;
  }

  pause(): Promise<void> {
    this.calls.push('pause');
    return Promise.resolve();
  }

  resume(): Promise<void> {
    this.calls.push('resume');
    return Promise.resolve();
  }

  async terminate(graceMs: number): Promise<boolean> {
    this.calls.push(`terminate ${graceMs}`);
    if (!this.ignoresTerm) this.end(null, 'SIGTERM');
    else await new Promise((r) => setTimeout(r, graceMs));
    this.end(null, 'SIGKILL');
    return true;
  }

  kill(): void {
    this.calls.push('kill');
    this.end(null, 'SIGKILL');
  }

  isAlive(): boolean {
    return this.alive;
  }

  async waitGone(): Promise<boolean> {
    await this.exit;
    return true;
  }

  memberCount(): number {
    return this.alive ? 1 : 0;
  }

  describe(): HandleDescription {
    return { backend: 'scripted', pid: null, pgid: null };
  }
}

/** Prepares every plan as given (cwd "/" by default) and hands out ScriptedHandles. */
export class ScriptedBackend implements ExecutionBackend {
  readonly name = 'scripted';
  readonly handles: ScriptedHandle[] = [];
  readonly recovered: HandleDescription[] = [];

  capabilities(): BackendCapabilities {
    return {
      stdin: false,
      pty: false,
      pause: true,
      signals: true,
      containment: { mode: 'remote', reason: 'scripted by the test' },
      sandbox: false,
      limits: [],
    };
  }

  prepare(plan: LaunchPlan): Launch {
    const [file, ...args] = plan.command !== undefined ? ['sh', '-c', plan.command] : plan.argv!;
    return {
      plan,
      file: file!,
      args,
      cwd: plan.cwd ?? '/',
      env: Object.fromEntries(Object.entries(plan.env).filter(([, v]) => v !== null)) as Record<string, string>,
    };
  }

  spawn(launch: Launch): Promise<ProcessHandle> {
    const handle = new ScriptedHandle(launch);
    this.handles.push(handle);
    return Promise.resolve(handle);
  }

  recover(description: HandleDescription): Promise<RecoveryResult> {
    this.recovered.push(description);
    return Promise.resolve({ killed: false });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
