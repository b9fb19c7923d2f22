// One command's life: state machine, handle output -> OutputLog (streaming UTF-8), deadline and idle timers, signals.
import type { Readable } from 'node:stream';
import type { ProcessHandle, PtySize } from '../backends/backend.js';
import { ServerError } from '../errors.js';
import type { HookRun } from '../hooks/hook-run.js';
import type { LoadMonitor } from '../system/load-monitor.js';
import { DeadlineClock, type DeadlineSnapshot } from './deadline-clock.js';
import { ExecutionInput, type InputDetection, type InputSnapshot } from './execution-input.js';
import { IdleTimer } from './idle-timer.js';
import { FinishedHandle } from './finished-handle.js';
import { OutputLog, type SavedText, type StreamName } from './output-log.js';
import type { ReadGather } from './read-gather.js';
import { Utf8Chunker } from './utf8-chunker.js';

/** Internal phases; `state` maps them to the public three. */
export type ExecutionPhase = 'starting' | 'running' | 'paused' | 'exiting' | 'exited';
export type ExecutionState = 'running' | 'paused' | 'exited';
export type TerminationReason =
  'cancel' | 'kill' | 'timeout' | 'idle_timeout' | 'disconnect' | 'shutdown' | 'detached_ttl' | 'output_limit';

/** Largest output chunk when the options name none: progressChunkBytes' default. */
const DEFAULT_MAX_CHUNK_BYTES = 64 * 1024;

export interface ExecutionOptions {
  id: string;
  sessionId: string;
  /** Exactly one of command / argv. */
  command?: string;
  argv?: string[];
  /** The directory the backend started the command in (for the snapshot). */
  cwd: string;
  /** The sandbox it runs in (null: none). */
  sandbox?: ExecutionSandbox | null;
  timeoutMs: number;
  /** True when the request asked for more than maxTimeoutMs and got less. */
  timeoutClamped: boolean;
  idleTimeoutMs: number;
  graceMs: number;
  background: boolean;
  outputBufferBytes: number;
  /** Output bytes (both streams) beyond which the command is terminated with 'output_limit'; 0 or absent = no limit. */
  maxOutputBytes?: number;
  inlineOutputChars: number;
  /** Largest output chunk, bytes (progressChunkBytes: a notification then never needs to carry more); default 64 KiB. */
  maxChunkBytes?: number;
  /** The server's read gatherer (config readGatherUs): larger reads of a flooding command's output. */
  readGather?: ReadGather;
  load: LoadMonitor;
  /** Key for the duration history (program and subcommand) and its usual duration, when known. */
  historyKey: string | null;
  expectedMs: number | undefined;
  /** False when the deadline is the server default: only then does history judge the run. */
  timeoutRequested: boolean;
  /** Facts for the record that the engine does not use: transport, request env, load at start. */
  meta: ExecutionMeta;
  /** preExecute hook runs (the id existed before they ran) and the warnings of those that failed open. */
  hooks?: HookRun[];
  hookWarnings?: string[];
  /** Runs after `done` (postExecute hooks); `postHooksDone` resolves when it has. */
  postHooks?: (execution: Execution) => Promise<void>;
  /** stdin stays open for write_stdin (the handle has it open). */
  interactive?: boolean;
  /** Quiet output before a blocked read counts as waiting for input, and the no-/proc fallback's longer wait. */
  inputQuietMs?: number;
  inputFallbackQuietMs?: number;
  /** When the backend was asked to spawn (default: now); durationMs counts from here. */
  startedAt?: Date;
}

export interface ExecutionMeta {
  transport: string;
  /** Only the variables the request set. */
  env: Record<string, string>;
  loadAtStart: unknown;
}

/** What results, `status` and records say about an execution's sandbox. */
export interface ExecutionSandbox {
  network: 'none' | 'host';
  writableRoots: string[];
}

export interface ExecutionSnapshot {
  id: string;
  sessionId: string;
  command: string | null;
  argv: string[] | null;
  cwd: string;
  /** The sandbox it runs in, null when it runs unsandboxed. */
  sandbox: ExecutionSandbox | null;
  /** The leader's pid and its process group, from the handle's description; null where a backend has none. */
  pid: number | null;
  pgid: number | null;
  state: ExecutionState;
  exitCode: number | null;
  signal: string | null;
  terminationReason: TerminationReason | null;
  background: boolean;
  startedAt: string;
  endedAt: string | null;
  durationMs: number;
  stdoutBytes: number;
  stderrBytes: number;
  lastSeq: number;
  /** Usual duration of this kind of command (median of past runs), null without history. */
  expectedMs: number | null;
  /** With history and no explicit timeoutMs: true once the run took over 3x the usual duration. */
  slowerThanUsual: boolean | null;
  timeout: DeadlineSnapshot & { clamped: boolean; idleTimeoutMs: number | null };
  /** Every hook run for this execution: preExecute ones, then postExecute ones as they end. */
  hooks: HookRun[];
  /** stdin is open for write_stdin (interactive or PTY). */
  interactive: boolean;
  /** The terminal's current size for a PTY execution, else null. */
  pty: PtySize | null;
  /** A member is blocked reading the input (after a short quiet time): answer with write_stdin. */
  waitingForInput: boolean;
  /** How waitingForInput is decided ('proc': a read seen in /proc; 'quiet-output': no /proc, a guess); null if not interactive. */
  inputDetection: InputDetection | null;
  /** Input written so far (sizes only, never the content); null if not interactive. */
  input: InputSnapshot | null;
  /** One line per hook that failed without blocking. */
  hookWarnings: string[];
  /** How its processes are held: the cgroup directory under cgroup containment, else null (see pgid). */
  cgroup: string | null;
  /**
   * Live processes the leader left behind (a daemon, a `nohup ... &`): they belong to the execution until it
   * is released (session end, detachedTtlMs, shutdown, control cancel/kill). null while the leader runs.
   */
  lingeringMembers: number | null;
  /** CPU time and peak memory of everything it started, where the containment can measure them. */
  usage: { cpuMs: number | null; memoryPeakBytes: number | null } | null;
}

const ORPHAN_PIPE_CHECK_MS = 100;
/** After SIGKILL, how long to wait for every member to be gone before answering anyway. */
const KILL_WAIT_MS = 5_000;
const DEFAULT_INPUT_QUIET_MS = 300;
const DEFAULT_INPUT_FALLBACK_QUIET_MS = 3_000;
const SLOWER_THAN_USUAL_FACTOR = 3;
const ORPHAN_PIPE_QUIET_MS = 250;
/** Check rounds without output before that pipe is cut (each round lets the event loop read the pipe). */
const ORPHAN_PIPE_QUIET_ROUNDS = 3;

export class Execution {
  readonly id: string;
  readonly sessionId: string;
  readonly background: boolean;
  readonly historyKey: string | null;
  readonly meta: ExecutionMeta;
  readonly expectedMs: number | undefined;
  readonly log: OutputLog;
  /**
   * The running command, behind the backend seam: the only way an execution reaches its processes. Once it
   * is retired, a FinishedHandle that keeps only the facts.
   */
  get handle(): ProcessHandle {
    return this.currentHandle;
  }
  private currentHandle: ProcessHandle;
  /** When the spawn began (ExecutionOptions.startedAt), so that a slow spawn under load is not left out of durationMs. */
  readonly startedAt: Date;
  /** Resolves when the leader has exited and every byte of output is in the log. */
  readonly done: Promise<void>;
  /** Resolves once the postExecute hooks have run after `done` (at once when there are none). Never rejects. */
  readonly postHooksDone: Promise<void>;

  private phase: ExecutionPhase = 'starting';
  private exitCode: number | null = null;
  private exitSignal: string | null = null;
  private reason: TerminationReason | null = null;
  private endedAt: Date | null = null;
  private readonly clock: DeadlineClock;
  private readonly ac = new AbortController();
  private readonly idle: IdleTimer | undefined;
  private readingPaused = false;
  private lastDataAt = Date.now();
  private readonly pipes: Readable[] = [];
  private readonly hookRuns: HookRun[];
  private readonly hookWarnings: string[];
  /** Bytes taken from both pipes; with maxOutputBytes, nothing is taken beyond the limit. */
  private outputTaken = 0;
  private outputCapped = false;
  /** Interactive executions: the open stdin and the waiting-for-input watch. */
  private readonly input: ExecutionInput | undefined;

  /** Start following a handle the backend has just spawned. */
  constructor(
    private readonly opts: ExecutionOptions,
    handle: ProcessHandle,
  ) {
    this.startedAt = opts.startedAt ?? new Date();
    this.id = opts.id;
    this.sessionId = opts.sessionId;
    this.background = opts.background;
    this.historyKey = opts.historyKey;
    this.meta = opts.meta;
    this.expectedMs = opts.expectedMs;
    this.currentHandle = handle;
    // A terminal's output is stored raw (the log, terminal clients) and rendered for what a model reads.
    this.log = new OutputLog(opts.outputBufferBytes, opts.inlineOutputChars, {
      id: opts.id,
      ...(handle.pty ? { terminal: { rows: handle.pty.rows } } : {}),
    });
    this.log.onUnsubscribe = () => this.applyBackPressure();

    const load = opts.load;
    this.clock = new DeadlineClock(opts.timeoutMs, load.current().multiplier, () => this.terminate('timeout'));
    const onSample = (r: { multiplier: number }) => this.clock.setMultiplier(r.multiplier);
    load.on('sample', onSample);
    this.ac.signal.addEventListener('abort', () => load.off('sample', onSample), { once: true });

    if (opts.idleTimeoutMs > 0) {
      const idle = new IdleTimer(opts.idleTimeoutMs, () => void this.terminate('idle_timeout'));
      this.idle = idle;
      this.ac.signal.addEventListener('abort', () => idle.stop(), { once: true });
    }

    if (opts.interactive && handle.stdin) {
      this.input = new ExecutionInput(handle, handle.stdin, {
        quietMs: opts.inputQuietMs ?? DEFAULT_INPUT_QUIET_MS,
        fallbackQuietMs: opts.inputFallbackQuietMs ?? DEFAULT_INPUT_FALLBACK_QUIET_MS,
        lastOutputAt: () => this.lastDataAt,
        active: () => this.phase === 'running',
        signal: this.ac.signal,
      });
    }

    const closed = [this.wire('stdout', handle.stdout), this.wire('stderr', handle.stderr)];
    this.phase = 'running';
    this.done = this.waitForEnd(closed);

    this.hookRuns = [...(opts.hooks ?? [])];
    this.hookWarnings = [...(opts.hookWarnings ?? [])];
    const postHooks = opts.postHooks;
    // A macrotask later, so whoever awaits `done` (the execute result) goes first.
    this.postHooksDone = postHooks
      ? this.done
          .then(() => new Promise((r) => setImmediate(r)))
          .then(() => postHooks(this))
          .catch(() => undefined)
      : this.done;
  }

  /** Append a hook run (postExecute) to this execution's record. */
  addHookRun(run: HookRun, warning: string | null = null): void {
    this.hookRuns.push(run);
    if (warning !== null) this.hookWarnings.push(warning);
  }

  get state(): ExecutionState {
    if (this.phase === 'paused') return 'paused';
    if (this.phase === 'exited') return 'exited';
    return 'running';
  }

  get terminationReason(): TerminationReason | null {
    return this.reason;
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  // Pipe -> whole UTF-8 characters as bytes -> OutputLog. A character split across reads is held until whole.
  private wire(stream: StreamName, pipe: Readable | null): Promise<void> {
    if (!pipe) return Promise.resolve();
    this.pipes.push(pipe);
    // Bytes, not strings: the window keeps output outside V8's heap (docs/performance.md, slow readers).
    const chunker = new Utf8Chunker(this.opts.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES);
    const gather = this.opts.readGather?.reader();
    pipe.on('data', (data: Buffer) => {
      // Past maxOutputBytes the rest is drained and dropped while the group is being terminated.
      if (this.outputCapped) return;
      const buf = this.capOutput(data);
      this.lastDataAt = Date.now();
      this.idle?.touch();
      this.input?.noteOutput();
      const pieces = chunker.write(buf);
      for (const piece of pieces) this.log.append(stream, piece.raw, piece.bytes);
      if (pieces.length > 0) this.applyBackPressure();
      // A small read in a flood: let the pipe fill before the next one (not while a reader holds output back).
      if (gather && !this.readingPaused) gather(data.length);
    });
    return new Promise((resolve) => {
      pipe.once('close', () => {
        for (const piece of chunker.end()) this.log.append(stream, piece.raw, piece.bytes);
        resolve();
      });
      pipe.on('error', () => undefined); // 'close' follows; nothing to add
    });
  }

  /** The part of `data` within maxOutputBytes; past the limit, terminate with 'output_limit' (the first reason wins). */
  private capOutput(data: Buffer): Buffer {
    const max = this.opts.maxOutputBytes ?? 0;
    if (max <= 0) return data;
    const room = max - this.outputTaken;
    if (data.length <= room) {
      this.outputTaken += data.length;
      return data;
    }
    this.outputCapped = true;
    this.outputTaken = max;
    void this.terminate('output_limit');
    return data.subarray(0, room);
  }

  /** Stop reading the handle's output while a subscriber is full; resume when all have drained. */
  private applyBackPressure(): void {
    if (this.readingPaused || !this.log.congested) return;
    this.readingPaused = true;
    for (const p of this.pipes) p.pause();
    void this.log.drained().then(() => {
      this.readingPaused = false;
      for (const p of this.pipes) p.resume();
      this.applyBackPressure();
    });
  }

  private async waitForEnd(closed: Promise<void>[]): Promise<void> {
    const exit = await this.handle.exit;
    this.exitCode = exit.exitCode;
    this.exitSignal = exit.signal;
    // Children may hold the pipes after the leader exits: keep streaming them. Only a pipe held by a
    // process outside the group (setsid'd daemon) is cut, once the group is gone and the pipe is quiet.
    // Quiet counts from the exit, not from the last output: a command that printed its only line just
    // before exiting (echo) has an old lastDataAt while its bytes still wait in the pipe. And it takes
    // several check rounds: each is its own timer, so the event loop polls the pipe between them; a loaded
    // loop can run an expired timer before it reads the pipe, which once cut `echo`'s output.
    const exitSeenAt = Date.now();
    const allClosed = Promise.all(closed);
    let settled = false;
    void allClosed.then(() => (settled = true));
    let lastSeen = this.lastDataAt;
    let quietRounds = 0;
    while (!settled) {
      await Promise.race([allClosed, new Promise((r) => setTimeout(r, ORPHAN_PIPE_CHECK_MS))]);
      if (settled) break;
      if (this.lastDataAt !== lastSeen) {
        lastSeen = this.lastDataAt;
        quietRounds = 0;
        continue;
      }
      quietRounds++;
      const quietMs = Date.now() - Math.max(this.lastDataAt, exitSeenAt);
      if (quietRounds >= ORPHAN_PIPE_QUIET_ROUNDS && quietMs > ORPHAN_PIPE_QUIET_MS && !this.readingPaused && !this.handle.isAlive()) {
        for (const p of this.pipes) p.destroy();
        await allClosed;
      }
    }
    this.transition('exited');
  }

  // Every phase change goes through here, so the side effects of each live in one place.
  private transition(next: ExecutionPhase): void {
    if (this.phase === 'exited' || this.phase === next) return;
    this.phase = next;
    // Paused time counts towards neither the deadline nor the idle timeout.
    if (next === 'paused') {
      this.clock.pause();
      this.idle?.pause();
    } else if (next === 'running') {
      this.clock.resume();
      this.idle?.resume();
    } else if (next === 'exiting') {
      this.clock.stop();
      this.idle?.stop();
    } else if (next === 'exited') {
      this.clock.stop();
      this.idle?.stop();
      this.endedAt = new Date();
      // A reason of our own: abort() without one builds a DOMException, which costs real time when a
      // thousand executions end at once (shutdown).
      this.ac.abort('exited');
    }
  }

  private requireLive(action: string): void {
    if (this.phase === 'exited' || this.phase === 'exiting') {
      throw new ServerError(
        'INVALID_STATE',
        `cannot ${action}: execution ${this.id} has ${this.phase === 'exited' ? 'exited' : 'already been told to stop'}`,
        {
          state: this.state,
        },
      );
    }
  }

  /** Stop everything the command started; the deadline and idle clocks stop with it. */
  async pause(): Promise<void> {
    this.requireLive('pause');
    if (this.phase === 'paused') throw new ServerError('INVALID_STATE', `execution ${this.id} is already paused`, { state: 'paused' });
    await this.handle.pause();
    // It may have been told to stop (or have exited) meanwhile: only a running execution becomes paused.
    if (this.phase === 'running') this.transition('paused');
  }

  async resume(): Promise<void> {
    this.requireLive('resume');
    if (this.phase !== 'paused') throw new ServerError('INVALID_STATE', `execution ${this.id} is not paused`, { state: this.state });
    await this.handle.resume();
    if (this.phase === 'paused') this.transition('running');
  }

  /** True while anything the command started is alive (members may outlive the leader). */
  hasLiveProcesses(): boolean {
    return this.handle.isAlive();
  }

  /** Send any signal to everything the command started; that may outlive the leader, so this works after exit too. */
  sendSignal(sig: NodeJS.Signals): boolean {
    const sent = this.handle.signal(sig);
    if (!sent && this.phase === 'exited')
      throw new ServerError('INVALID_STATE', `execution ${this.id} has exited and its process group is gone`, { state: 'exited' });
    if (sig === 'SIGCONT' && this.phase === 'paused') this.transition('running');
    if ((sig === 'SIGSTOP' || sig === 'SIGTSTP') && this.phase === 'running') this.transition('paused');
    return sent;
  }

  /**
   * Stop everything the command started: TERM (+CONT), grace, KILL. The first reason wins.
   * Works after the leader exited as long as members it left behind remain.
   */
  terminate(reason: TerminationReason, graceMs = this.opts.graceMs): Promise<void> {
    if (this.phase === 'exited') {
      // The leader is gone but lingering members still count as ours.
      if (!this.handle.isAlive()) return Promise.resolve();
      if (reason === 'kill' || graceMs === 0) {
        this.handle.kill();
        return this.handle.waitGone(KILL_WAIT_MS).then(() => undefined);
      }
      return this.handle.terminate(graceMs).then(() => undefined);
    }
    this.reason ??= reason;
    this.transition('exiting');
    if (reason === 'kill' || graceMs === 0) {
      this.handle.kill();
      // SIGKILL takes effect asynchronously: answer once everything is really gone (bounded).
      return Promise.all([this.done, this.handle.waitGone(KILL_WAIT_MS)]).then(() => undefined);
    }
    return Promise.all([this.handle.terminate(graceMs), this.done]).then(() => undefined);
  }

  /** True for executions whose stdin stays open for writes (interactive or PTY). */
  get interactive(): boolean {
    return this.input !== undefined;
  }

  /** True while a member is blocked reading the input after a quiet moment. */
  get waitingForInput(): boolean {
    return this.input?.waiting ?? false;
  }

  /** Resolves when the execution waits for input (at once if it does now) or has exited. */
  whenWaitingForInput(): Promise<void> {
    const input = this.input;
    if (!input || input.waiting || this.phase === 'exited') return input ? Promise.resolve() : this.done;
    return new Promise((resolve) => {
      const onWaiting = (waiting: boolean) => {
        if (!waiting) return;
        input.off('waiting', onWaiting);
        resolve();
      };
      input.on('waiting', onWaiting);
      void this.done.then(() => {
        input.off('waiting', onWaiting);
        resolve();
      });
    });
  }

  /** Subscribe to waiting-for-input changes; returns the unsubscribe function (a no-op when not interactive). */
  onWaitingForInput(listener: (waiting: boolean) => void): () => void {
    const input = this.input;
    if (!input) return () => undefined;
    input.on('waiting', listener);
    return () => input.off('waiting', listener);
  }

  /**
   * Write to the command's stdin, then close it on `eof` (on a terminal: Ctrl-D). INVALID_STATE when the
   * execution is not interactive, has exited, or its stdin is closed.
   */
  async writeInput(data: string, eof: boolean): Promise<void> {
    if (!this.input) {
      throw new ServerError(
        'INVALID_STATE',
        `execution ${this.id} is not interactive: start it with interactive: true or pty to write to it`,
        {
          interactive: false,
        },
      );
    }
    this.requireLive('write to stdin');
    await this.input.write(data, eof);
  }

  /** Change a PTY execution's terminal size. INVALID_STATE without a terminal or after exit; INVALID_INPUT for a bad size. */
  resize(size: PtySize): void {
    if (!this.handle.pty || !this.handle.resize) {
      throw new ServerError('INVALID_STATE', `execution ${this.id} has no terminal: only pty executions can be resized`, { pty: null });
    }
    this.requireLive('resize');
    try {
      this.handle.resize(size);
    } catch (e) {
      if (e instanceof RangeError) throw new ServerError('INVALID_INPUT', e.message);
      throw new ServerError('INVALID_STATE', `cannot resize execution ${this.id}: ${(e as Error).message}`, { state: this.state });
    }
  }

  /**
   * The run is final (its record and logs on disk hold everything) and nothing it started is alive: keep only
   * what `status` shows. The handle's closed pipes, child process object and cgroup holder go (a FinishedHandle
   * keeps its description and last usage), and so do the inline head and tail: `saved` reads them from the
   * record. The registry keeps 500 finished executions, each of which held all that. False (nothing done)
   * while it runs or while something it started lives on.
   */
  retire(saved: () => SavedText): boolean {
    if (this.phase !== 'exited' || this.log.retired || this.currentHandle.isAlive()) return false;
    // Drops the window too (release): reads of its output come from the log files.
    this.log.retire(saved);
    this.currentHandle = new FinishedHandle(this.currentHandle);
    this.pipes.length = 0;
    return true;
  }

  /** Last-resort synchronous kill (process 'exit' handler). */
  killNow(): void {
    this.handle.kill();
  }

  snapshot(): ExecutionSnapshot {
    const end = this.endedAt ?? new Date();
    const where = this.handle.describe();
    return {
      id: this.id,
      sessionId: this.sessionId,
      command: this.opts.command ?? null,
      argv: this.opts.argv ?? null,
      cwd: this.opts.cwd,
      sandbox: this.opts.sandbox ?? null,
      pid: where.pid,
      pgid: where.pgid,
      state: this.state,
      exitCode: this.exitCode,
      signal: this.exitSignal,
      terminationReason: this.reason,
      background: this.background,
      startedAt: this.startedAt.toISOString(),
      endedAt: this.endedAt?.toISOString() ?? null,
      durationMs: end.getTime() - this.startedAt.getTime(),
      stdoutBytes: this.log.bytes.stdout,
      stderrBytes: this.log.bytes.stderr,
      lastSeq: this.log.seq,
      expectedMs: this.opts.expectedMs ?? null,
      slowerThanUsual:
        this.opts.expectedMs === undefined || this.opts.timeoutRequested
          ? null
          : end.getTime() - this.startedAt.getTime() > SLOWER_THAN_USUAL_FACTOR * this.opts.expectedMs,
      timeout: {
        ...this.clock.snapshot(),
        clamped: this.opts.timeoutClamped,
        idleTimeoutMs: this.opts.idleTimeoutMs > 0 ? this.opts.idleTimeoutMs : null,
      },
      hooks: [...this.hookRuns],
      hookWarnings: [...this.hookWarnings],
      cgroup: typeof where.cgroup === 'string' ? where.cgroup : null,
      // Counting scans /proc for a process group: only once the leader is gone, when it matters.
      lingeringMembers: this.phase === 'exited' ? this.handle.memberCount() : null,
      usage: this.handle.usage?.() ?? null,
      interactive: this.input !== undefined,
      pty: this.handle.pty,
      waitingForInput: this.input?.waiting ?? false,
      inputDetection: this.input?.detection ?? null,
      input: this.input?.snapshot() ?? null,
    };
  }
}
