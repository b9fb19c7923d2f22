// Crash-safe bookkeeping: a small file names each execution before it is spawned and says where it runs right
// after, so a server killed at any moment leaves nothing the next server cannot find and stop.
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One execution the journal knows about. */
export interface JournalEntry {
  id: string;
  /** The server that started it: a restarted server treats entries of dead servers as leftovers. */
  server: { pid: number; startTicks: number | null };
  /** Clock ticks since boot just before the spawn: no process of this execution started earlier. */
  intendedAtTicks: number;
  createdAt: string;
  /** The command, for the log line and the record of a run that never got one. */
  command: string;
  /** The backend that runs it (its `recover` gets the entry). */
  backend?: string;
  /** Where it runs (the backend's HandleDescription: pid, pgid, start ticks, cgroup...); null until spawned. */
  description: Record<string, unknown> | null;
}

const SUFFIX = '.json';
/** Linux's USER_HZ: /proc start times are in these ticks (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_S = 100;

/** Clock ticks since boot now (from /proc/uptime), comparable with /proc/<pid>/stat start times. */
export function ticksNow(): number {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Math.floor(uptime * CLOCK_TICKS_PER_S);
}

function startTicksOf(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return rest[0] === 'Z' || rest[0] === 'X' ? null : Number(rest[19]);
  } catch {
    return null;
  }
}

/**
 * Parse a journal file: the entry on its first line, then lines that add to it (`{"description":...}`).
 * A torn later line (a crash mid-append) is ignored; undefined when the entry itself cannot be read.
 */
export function parseJournalFile(text: string): JournalEntry | undefined {
  const [first, ...more] = text.split('\n');
  let entry: JournalEntry;
  try {
    entry = JSON.parse(first ?? '') as JournalEntry;
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null || typeof entry.id !== 'string') return undefined;
  for (const line of more) {
    if (line === '') continue;
    try {
      const update = JSON.parse(line) as Partial<JournalEntry>;
      if (update.description !== undefined) entry.description = update.description;
    } catch {
      // torn by a crash: what came before still holds
    }
  }
  return entry;
}

/**
 * `<dataDir>/journal/<id>.json`, written synchronously: once a call returns, a SIGKILL of the server cannot
 * undo it. An entry lives from before the spawn until everything the execution started is gone.
 *
 * The intent is written to a temp file renamed to a fresh name, and the spawn's description is appended as a
 * second line. Never a rename over an existing file: ext4 (auto_da_alloc) then starts writeback of the new
 * data, and the unlink at release waits for that I/O, about 4 ms each: with 1,000 executions ending at
 * shutdown, seconds of a blocked event loop.
 */
export class ExecutionJournal {
  readonly dir: string;
  private readonly server: JournalEntry['server'];
  private usable: boolean;
  private readonly releasing = new Set<Promise<void>>();
  /**
   * The intent's file, still open from `intend` until `spawned` (or `release`) appends to it: opening and
   * closing it again cost two system calls right after the spawn, while the command already runs.
   */
  private readonly open = new Map<string, number>();

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'journal');
    this.server = { pid: process.pid, startTicks: startTicksOf(process.pid) };
    try {
      mkdirSync(this.dir, { recursive: true });
      this.usable = true;
    } catch {
      // Records report the unusable data dir; executions still run.
      this.usable = false;
    }
  }

  /** Before the spawn: name the execution. Returns the entry (kept by the caller for `spawned`). */
  intend(id: string, command: string, backend?: string): JournalEntry {
    const entry: JournalEntry = {
      id,
      ...(backend ? { backend } : {}),
      server: this.server,
      intendedAtTicks: ticksNow(),
      createdAt: new Date().toISOString(),
      command,
      description: null,
    };
    this.write(entry);
    return entry;
  }

  /** Right after the spawn: where it runs. */
  spawned(entry: JournalEntry, description: Record<string, unknown>): void {
    entry.description = description;
    if (!this.usable) return;
    const line = `\n${JSON.stringify({ description })}\n`;
    const fd = this.open.get(entry.id);
    try {
      // One write at the end of the intent: a crash tears at most this line, which the reader then ignores.
      if (fd !== undefined) writeSync(fd, line);
      else appendFileSync(join(this.dir, `${entry.id}${SUFFIX}`), line);
    } catch {
      // A full disk must not stop the command; recovery then relies on the intent and the cgroup tree.
    } finally {
      this.closeOpen(entry.id);
    }
  }

  private closeOpen(id: string): void {
    const fd = this.open.get(id);
    if (fd === undefined) return;
    this.open.delete(id);
    try {
      closeSync(fd);
    } catch {
      // nothing to do: the entry is on disk or recovery does without it
    }
  }

  /**
   * Everything the execution started is gone (or it never spawned): forget it. Asynchronous: removing a file
   * whose blocks are on disk can take milliseconds (a `discard` mount trims them), and a thousand executions
   * ending at shutdown must not block the event loop for seconds; in parallel they cost a fraction of that.
   * `settled()` waits for every removal in flight. A crash before one lands leaves an entry whose processes
   * are gone: the next start finds nothing alive and removes it.
   */
  release(id: string): Promise<void> {
    this.closeOpen(id);
    if (!this.usable) return Promise.resolve();
    const done = unlink(join(this.dir, `${id}${SUFFIX}`)).catch(() => undefined); // already gone: nothing to forget
    this.releasing.add(done);
    void done.then(() => this.releasing.delete(done));
    return done;
  }

  /** Resolves once every release in flight has landed on disk (shutdown awaits it before exit). */
  async settled(): Promise<void> {
    while (this.releasing.size > 0) await Promise.all([...this.releasing]);
  }

  /** The intent, to a fresh name (ids are unique): temp file, then rename. */
  private write(entry: JournalEntry): void {
    if (!this.usable) return;
    const file = join(this.dir, `${entry.id}${SUFFIX}`);
    const tmp = `${file}.tmp-${process.pid}`;
    let fd: number | undefined;
    try {
      fd = openSync(tmp, 'w');
      writeSync(fd, JSON.stringify(entry));
      // Renamed while open: the descriptor follows the file, and `spawned` appends through it.
      renameSync(tmp, file);
      this.open.set(entry.id, fd);
    } catch {
      // A full disk must not stop the command; recovery then relies on the record and the cgroup tree.
      if (fd !== undefined) closeSync(fd);
      rmSync(tmp, { force: true });
    }
  }

  /**
   * Entries left by servers that are no longer alive (read once at start), and removal of their temp files.
   * Entries of a live server (another one on the same data dir) are never returned.
   */
  leftovers(): JournalEntry[] {
    if (!this.usable) return [];
    const out: JournalEntry[] = [];
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      const tmp = /\.tmp-(\d+)$/.exec(name);
      if (tmp) {
        if (Number(tmp[1]) !== process.pid && startTicksOf(Number(tmp[1])) === null) rmSync(path, { force: true });
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      let entry: JournalEntry | undefined;
      try {
        entry = parseJournalFile(readFileSync(path, 'utf8'));
      } catch {
        entry = undefined;
      }
      if (!entry) {
        rmSync(path, { force: true }); // torn by a crash before the intent was complete: nothing to act on
        continue;
      }
      const { pid, startTicks } = entry.server;
      const alive = pid === process.pid ? startTicks === this.server.startTicks : startTicksOf(pid) === startTicks;
      if (!alive) out.push(entry);
    }
    return out;
  }
}
