// The local handle of a command on a pseudo-terminal (@lydell/node-pty): one session, its terminal as stdout.
import pty from '@lydell/node-pty';
import { closeSync, constants as fsConstants, openSync, readSync } from 'node:fs';
import { constants } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { findExecutable } from './find-executable.js';
import { listSessionMembers, readProcStat } from './proc.js';
import { MAX_PTY_COLS, MAX_PTY_ROWS, type HandleDescription, type HandleExit, type ProcessHandle, type PtySize } from '../backend.js';
import { isWaitingForInput } from './stdin-wait.js';
import { pollUntilGone, stopPolitely } from './stop-politely.js';

export interface PtySpawnSpec {
  file: string;
  args: string[];
  cwd: string;
  /** The full environment; TERM is set from it (default xterm-256color). */
  env: Record<string, string>;
  size: PtySize;
}

const DEFAULT_TERM = 'xterm-256color';
const POLL_MS = 20;
/**
 * Output held in the stdout stream before the terminal is paused. Large on purpose: node-pty drops what is
 * still unread 200 ms after the leader exits, so a paused terminal at that moment would lose output.
 */
const PAUSE_AFTER_BYTES = 1 << 20;

/** The shape of node-pty's IPty this handle uses, plus the socket-level `on('error')` its typings omit. */
type Pty = pty.IPty & { on(event: 'error', listener: (err: Error) => void): void };

/**
 * node-pty's UnixTerminal internals the end-of-output drain relies on (node-pty 1.1): the master fd, the
 * socket reading it, and `_boundClose`, which node-pty sets the moment it learns the leader exited.
 */
interface PtyInternals {
  fd?: unknown;
  _socket?: { push(chunk: Buffer): boolean };
  _boundClose?: unknown;
}

/** Bytes read from the master per drain read. */
const DRAIN_READ_BYTES = 64 * 1024;

/**
 * A command on its own pseudo-terminal. node-pty forks, calls setsid and makes the terminal the controlling
 * one, so the leader heads a new session: "everything the command started" is that session (every process
 * group in it, job-control groups included), found by session id in /proc. Terminal output (stdout and
 * stderr merged, \n sent as \r\n) is `stdout`; `stdin` writes keystrokes, and ending it sends Ctrl-D (EOF
 * at the start of a line, as on a terminal).
 */
export class PtyHandle implements ProcessHandle {
  readonly stdout: Readable;
  readonly stderr = null;
  readonly stdin: Writable;
  readonly exit: Promise<HandleExit>;
  private size: PtySize;
  private readonly pid: number;
  private readonly startTicks: number | undefined;
  private readonly ptsName: string;
  private leaderExited = false;
  private gone = false;
  /** Members seen in the session: pid -> start time (so a reused sid is never taken for ours). */
  private readonly known = new Map<number, number>();
  /** Our own fd on the terminal's slave side while the leader runs (see holdSlave), or -1. */
  private slaveFd = -1;

  private constructor(
    private readonly term: Pty,
    size: PtySize,
  ) {
    this.size = { ...size };
    this.pid = term.pid;
    this.ptsName = (term as unknown as { ptsName?: string }).ptsName ?? '';
    this.startTicks = readProcStat(this.pid)?.startTicks;
    if (this.startTicks !== undefined) this.known.set(this.pid, this.startTicks);
    // node-pty throws a socket error (EIO is handled; EPIPE after exit is not) unless someone else listens.
    term.on('error', () => undefined);

    this.stdout = new Readable({ read: () => term.resume() });
    term.onData((data) => {
      const chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
      this.stdout.push(chunk);
      if (this.stdout.readableLength > PAUSE_AFTER_BYTES) term.pause();
    });
    this.holdSlave(term);
    this.exit = new Promise((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        this.releaseSlave();
        this.members(); // refresh who is in the session before the leader's pid can be handed out again
        this.leaderExited = true;
        this.stdout.push(null);
        resolve(signal ? { exitCode: null, signal: signalName(signal) } : { exitCode, signal: null });
      });
    });

    let ended = false;
    this.stdin = new Writable({
      write: (chunk: Buffer | string, _encoding, callback) => {
        if (this.leaderExited || ended) return callback(new Error('the terminal is closed'));
        term.write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
        callback();
      },
      final: (callback) => {
        ended = true;
        // A terminal has no "close stdin": EOF is Ctrl-D, which the line discipline turns into a 0-byte read.
        if (!this.leaderExited) term.write('\x04');
        callback();
      },
    });
    this.stdin.on('error', () => undefined);
  }

  /**
   * Never lose the end of the output. When the last slave fd closes, the master reports a hang-up, and libuv
   * takes "hang-up after a short read" for end-of-file: node-pty closes the master with up to a pty buffer
   * of output still unread (microsoft/node-pty#72: `seq 1 3000` lost its last KBs in most runs). So the
   * server holds a slave fd of its own while the leader runs (no hang-up), and when node-pty learns the
   * leader exited (it sets `_boundClose` then), reads what the kernel still holds straight from the master
   * into node-pty's socket, in order, and only then lets go: the hang-up that follows finds nothing left.
   * Depends on node-pty internals; without them (another version) the terminal works as before.
   */
  private holdSlave(term: Pty): void {
    const internals = term as unknown as PtyInternals;
    const fd = internals.fd;
    const socket = internals._socket;
    if (typeof fd !== 'number' || typeof socket?.push !== 'function' || this.ptsName === '') return;
    if (!Object.prototype.hasOwnProperty.call(internals, '_boundClose')) return;
    try {
      this.slaveFd = openSync(this.ptsName, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
    } catch {
      return; // no access to the slave: keep node-pty's own behaviour
    }
    let bound = internals._boundClose;
    Object.defineProperty(internals, '_boundClose', {
      configurable: true,
      enumerable: true,
      get: () => bound,
      set: (value: unknown) => {
        bound = value;
        if (value === true) {
          drainMaster(fd, socket);
          this.releaseSlave();
        }
      },
    });
  }

  private releaseSlave(): void {
    if (this.slaveFd === -1) return;
    try {
      closeSync(this.slaveFd);
    } catch {
      // already closed
    }
    this.slaveFd = -1;
  }

  /** Start `spec` on a new terminal. Throws the OS error when it cannot (node-pty reports exec failures as exit 1). */
  static spawn(spec: PtySpawnSpec): PtyHandle {
    checkSize(spec.size);
    const env: Record<string, string> = { ...spec.env, TERM: spec.env.TERM ?? DEFAULT_TERM };
    // node-pty forks first and reports a failed exec as an exit code: find the program beforehand, so a
    // missing one is a spawn error (ENOENT/EACCES) as with pipes.
    const file = findExecutable(spec.file, env.PATH ?? '', spec.cwd);
    const term = pty.spawn(file, spec.args, {
      name: env.TERM,
      cols: spec.size.cols,
      rows: spec.size.rows,
      cwd: spec.cwd,
      env,
      // Raw bytes: the output log decodes UTF-8 itself (split characters are held until whole).
      encoding: null,
    }) as Pty;
    return new PtyHandle(term, spec.size);
  }

  get pty(): PtySize {
    return { ...this.size };
  }

  /** Change the terminal size; the foreground program gets SIGWINCH. */
  resize(size: PtySize): void {
    checkSize(size);
    if (this.leaderExited) throw new Error('the terminal is closed');
    this.term.resize(size.cols, size.rows);
    this.size = { ...size };
  }

  /** True when a member of the session is blocked reading the terminal (null when /proc cannot tell). */
  waitingForInput(ignore?: ReadonlySet<number>): boolean | null {
    if (this.leaderExited || this.ptsName === '') return false;
    const pids = this.members().filter((pid) => !ignore?.has(pid));
    if (pids.length === 0) return false;
    return isWaitingForInput(pids, new Set([this.ptsName, '/dev/tty']));
  }

  /** Live members of the session (the leader while it runs, then whatever it left), as ProcessGroup does for groups. */
  private members(): number[] {
    if (this.gone) return [];
    const found = listSessionMembers(this.pid);
    const ours = !this.leaderExited || found.some((m) => this.known.get(m.pid) === m.startTicks);
    if (found.length === 0 || !ours) {
      if (this.leaderExited) this.gone = true;
      return [];
    }
    for (const m of found) this.known.set(m.pid, m.startTicks);
    return found.map((m) => m.pid);
  }

  /** Signal every process group of the session. False when nothing is left. */
  signal(sig: NodeJS.Signals): boolean {
    const pids = this.members();
    if (pids.length === 0) return false;
    const groups = new Set<number>();
    for (const pid of pids) {
      const pgid = readProcStat(pid)?.pgid;
      if (pgid !== undefined) groups.add(pgid);
    }
    let sent = false;
    for (const pgid of groups) {
      try {
        process.kill(-pgid, sig);
        sent = true;
      } catch {
        // ESRCH: that group emptied meanwhile.
      }
    }
    return sent;
  }

  pause(): Promise<void> {
    this.signal('SIGSTOP');
    return Promise.resolve();
  }

  resume(): Promise<void> {
    this.signal('SIGCONT');
    return Promise.resolve();
  }

  terminate(graceMs: number): Promise<boolean> {
    return stopPolitely(this, graceMs);
  }

  kill(): void {
    this.signal('SIGKILL');
  }

  isAlive(): boolean {
    return this.members().length > 0;
  }

  waitGone(timeoutMs = Infinity): Promise<boolean> {
    return pollUntilGone(() => this.isAlive(), timeoutMs, POLL_MS);
  }

  memberCount(): number {
    return this.members().length;
  }

  describe(): HandleDescription {
    // With the leader's start time, pid = pgid = sid names this session even after a server restart.
    return { backend: 'local', pid: this.pid, pgid: this.pid, sid: this.pid, startTicks: this.startTicks ?? null, pty: true };
  }
}

/**
 * Everything the master can read now, pushed into node-pty's socket (behind what it already buffered, so the
 * order holds). The master is non-blocking: EAGAIN means empty; with our slave fd open there is no EIO.
 */
function drainMaster(fd: number, socket: { push(chunk: Buffer): boolean }): void {
  for (;;) {
    const buf = Buffer.allocUnsafe(DRAIN_READ_BYTES);
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      return; // EAGAIN (drained), EIO, EBADF: nothing more to read
    }
    if (n <= 0) return;
    socket.push(buf.subarray(0, n));
  }
}

function checkSize(size: PtySize): void {
  const ok = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  if (!ok(size.cols, MAX_PTY_COLS) || !ok(size.rows, MAX_PTY_ROWS)) {
    throw new RangeError(`terminal size must be 1..${MAX_PTY_COLS} columns and 1..${MAX_PTY_ROWS} rows`);
  }
}

function signalName(signal: number): string {
  const entry = Object.entries(constants.signals).find(([, n]) => n === signal);
  return entry ? entry[0] : String(signal);
}
