// Keeps every execution's record (written atomically at start and end) and its output files: retention,
// history across restarts, and recovery of records left 'running' by a server that died. The format: record-format.ts.
import {
  appendFileSync,
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { appendFile, opendir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ExecutionBackend } from '../backends/backend.js';
import type { ServerIdentity } from '../backends/local/server-identity.js';
import { cleanResponses, stopLeftovers, type CrashRecovery } from './crash-recovery.js';
import type { ExecutionJournal } from './execution-journal.js';
import { ServerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Execution } from '../processes/execution.js';
import type { SavedText } from '../processes/output-log.js';
import { shortId } from '../processes/execution-registry.js';
import { viewOf } from '../processes/execution-view.js';
import { matchId } from '../processes/id-lookup.js';
import { VERSION } from '../version.js';
import { OutputFiles, outputFileList } from './output-files.js';
import {
  compactTimestamp,
  handleOf,
  RECORD_SUFFIX,
  redactEnv,
  summarise,
  type ExecutionRecord,
  type RecordMeta,
  type RecordSummary,
} from './record-format.js';
import { RecordIndex } from './record-index.js';
import { isFinal, readSummaries, SUMMARIES_FILE, type SummaryLine } from './summaries-file.js';

export type { ExecutionRecord, RecordMeta, RecordState, RecordSummary } from './record-format.js';
export { redactEnv } from './record-format.js';

interface IndexEntry extends RecordSummary {
  base: string;
  logBytes: number;
  live: boolean;
  /** When it ended (ms since epoch), null while it runs or when unknown: retention protects recent ends. */
  endedAtMs: number | null;
  saveErrors?: string[];
}

interface LiveRecord {
  execution: Execution;
  base: string;
  files: OutputFiles;
  saveErrors: string[];
  writes: Promise<void>;
  meta: RecordMeta;
  /** Stops the log files following the execution's output (once they are closed, nothing must hold them). */
  unfollow: () => void;
  /** Written final synchronously by finalizeNow (the process is about to exit): no later write may replace it. */
  sealed?: boolean;
}

/** What `status` history asks for (see RecordStore.listPage). */
export interface HistoryFilter {
  state?: string;
  query?: string;
  limit?: number;
  /** Only records that started before this one (an id or unique prefix). */
  before?: string;
  /** With `query`: look at no more than this many records (default: all of them). */
  scanBudget?: number;
}

/** A page of history: the records, and where to go on when the scan budget ran out before the oldest record. */
export interface HistoryPage {
  records: RecordSummary[];
  /** Pass `before` back to search older records; `scanned` records were looked at. */
  next?: { before: string; scanned: number };
}

export interface RecordStoreOptions {
  maxRecords: number;
  maxLogBytes: number;
  graceMs: number;
  /** Recovers what a dead server's executions left behind, from their records. */
  backend: ExecutionBackend;
  /** This server, and whether the one that wrote a record still runs. */
  identity: ServerIdentity;
  /** Retention never removes a record and logs that ended less than this long ago (a follower may still read them). */
  retentionProtectMs?: number;
  /** Executions named before their spawn: what a dead server left without a record is found here. */
  journal?: ExecutionJournal;
}

/** A final record of at most this many bytes replaces the first one in place (one page: see writeInPlace). */
const IN_PLACE_MAX_BYTES = 4096;

/** Summary lines built per turn of the event loop when the file is rewritten after start. */
const SUMMARY_SLICE = 5_000;

/** Records read (or files removed) at once in the background: the thread pool stays free for running executions' writes. */
const BACKGROUND_BATCH = 16;

/** Names per read of the directory listing (one trip to the thread pool each). */
const LISTING_BUFFER = 1_024;

/** Entries (or names) handled per turn of the event loop by the background load and retention. */
const LOOP_SLICE = 5_000;

/** Records taken off the index per retention slice (their files are then removed a few at a time). */
const PRUNE_SLICE = 2_000;

/** The index group of records whose execution is still in memory and not final (see RecordStore.index). */
const LIVE_GROUP = '\0live';

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

function endedAtMsOf(r: { endedAt?: string | null }): number | null {
  const t = r.endedAt ? Date.parse(r.endedAt) : NaN;
  return Number.isFinite(t) ? t : null;
}

/** The names in a directory, read a slice at a time (never 300,000 strings built in one turn of the loop). */
async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  const d = await opendir(dir, { bufferSize: LISTING_BUFFER });
  for await (const entry of d) names.push(entry.name);
  return names;
}

/** Where the history stands: complete once `loading` is false (before that, past runs may be missing). */
export interface HistoryState {
  loading: boolean;
  /** Records known so far (past and this run's). */
  records: number;
}

export class RecordStore {
  readonly dir: string;
  /** Grouped by state (live ones apart: their state is their execution's): a filter on a rare state is cheap. */
  private readonly index = new RecordIndex<IndexEntry>((e) => (e.live ? LIVE_GROUP : e.state));
  private readonly live = new Map<string, LiveRecord>();
  private readonly finishing = new Map<string, Promise<void>>();
  private dirError: string | null = null;
  /** Appends to the summaries file, one after another. */
  private summaryWrites: Promise<void> = Promise.resolve();
  /** Past records are still being read (after listening): history may be incomplete, retention waits. */
  private loading = false;
  /** The background load (summaries, listing, crash cleanup, first prune); settled at once when there is none. */
  private loaded: Promise<void> = Promise.resolve();
  /** Set by flush (shutdown): the background load and retention stop at their next slice. */
  private closing = false;
  /** A retention pass is running (see prune). */
  private pruning = false;

  constructor(
    dataDir: string,
    private readonly options: RecordStoreOptions,
    private readonly logger: Logger,
  ) {
    this.dir = join(dataDir, 'responses');
  }

  /**
   * Before the server listens: only what cannot wait, and nothing that grows with history: the records
   * directory is created and what dead servers left running is stopped (their cgroups and journal entries:
   * no listing of `responses/`). Past records load after that, in the background (see whenLoaded):
   * 100,000 of them once took 9.6 s before the server listened.
   */
  async init(): Promise<void> {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      this.dirError = `cannot create ${this.dir}: ${(e as Error).message}`;
      this.logger.error({ dir: this.dir, err: (e as Error).message }, 'records directory is unusable: executions run but are not saved');
      return;
    }
    const crash: CrashRecovery = this.options.journal
      ? await stopLeftovers({ journal: this.options.journal, backend: this.options.backend, graceMs: this.options.graceMs })
      : { killed: new Set(), leftovers: new Set(), tempFilesRemoved: 0, orphanLogSetsRemoved: 0 };
    this.loading = true;
    this.loaded = this.load(crash)
      .catch((e: Error) => this.logger.error({ dir: this.dir, err: e.message }, 'cannot load the records history'))
      .finally(() => {
        this.loading = false;
      });
  }

  /** Resolves once past records are loaded, crash leftovers cleaned and the first retention pass done. */
  whenLoaded(): Promise<void> {
    return this.loaded;
  }

  /** Whether history is complete yet, and how much of it is loaded. */
  historyState(): HistoryState {
    return { loading: this.loading, records: this.index.count };
  }

  /**
   * After listening, in slices: the summaries file first (history is served from it as soon as it is in,
   * unless a dead server left runs it cannot name), then one listing of `responses/` to reconcile: records
   * the file does not name (runs a crash left 'running', a data dir from before summaries existed) are
   * read one by one and marked lost when their server is gone; records removed by hand leave the index;
   * dead writers' temp files and log sets without a record are removed. Then the file is rewritten if it
   * was not exact, and retention runs once over everything.
   */
  private async load(crash: CrashRecovery): Promise<void> {
    const t0 = performance.now();
    const phaseMs: Record<string, number> = {};
    const phase = (name: string) => (phaseMs[name] = Math.round(performance.now() - t0));
    const summaries = await readSummaries(join(this.dir, SUMMARIES_FILE));
    const fromFile: IndexEntry[] = [];
    // In slices, like everything below that walks the whole history: 100,000 records walked in one turn
    // (and the garbage collections such a turn sets off) stalled every client for seconds after a start.
    let n = 0;
    for (const l of summaries?.byName.values() ?? []) {
      if (++n % LOOP_SLICE === 0) await yieldToLoop();
      // The parsed summary becomes the entry itself (no copy of 100,000 objects), and its path is a plain
      // concatenation: the directory is already normalised and a record's name holds no separator.
      const e = l.s as IndexEntry;
      e.base = `${this.dir}/${l.n.slice(0, -RECORD_SUFFIX.length)}`;
      e.logBytes = l.l;
      e.live = false;
      e.endedAtMs = l.e;
      if (l.x) e.saveErrors = l.x;
      fromFile.push(e);
    }
    this.addLoaded(fromFile);
    phase('summaries');
    // Runs of a dead server are missing from the file (it appends at the end of a run): history is not
    // complete until the listing found their records.
    if (summaries && crash.leftovers.size === 0) this.loading = false;
    if (this.closing) return;

    const names = await listNames(this.dir);
    phase('listing');
    if (this.closing) return;
    const onDisk = new Set<string>();
    for (const name of names) {
      if (++n % LOOP_SLICE === 0) await yieldToLoop();
      if (name.endsWith(RECORD_SUFFIX)) onDisk.add(name);
    }
    // Named by the file but gone from disk (removed by hand, or by another server's retention).
    let removedByHand = 0;
    for (const [name, l] of summaries?.byName ?? []) {
      if (++n % LOOP_SLICE === 0) await yieldToLoop();
      if (onDisk.has(name)) continue;
      const e = this.index.get(l.s.id);
      if (e && !e.live && basename(e.base) === name.slice(0, -RECORD_SUFFIX.length)) {
        this.index.delete(l.s.id);
        removedByHand++;
      }
    }
    // On disk but not in the file, nor this server's: read one by one.
    const unread: string[] = [];
    for (const name of onDisk) {
      if (++n % LOOP_SLICE === 0) await yieldToLoop();
      if (summaries?.byName.has(name)) continue;
      const id = name.slice(name.indexOf('_') + 1, -RECORD_SUFFIX.length);
      if (!this.index.get(id)) unread.push(name);
    }
    unread.sort();
    const killed = new Set(crash.killed);
    const found: IndexEntry[] = [];
    const lostIds: string[] = [];
    let unreadable = 0;
    for (let i = 0; i < unread.length && !this.closing; i += BACKGROUND_BATCH) {
      await Promise.all(
        unread.slice(i, i + BACKGROUND_BATCH).map(async (name) => {
          const base = join(this.dir, name.slice(0, -RECORD_SUFFIX.length));
          let record: ExecutionRecord;
          try {
            record = JSON.parse(await readFile(`${base}${RECORD_SUFFIX}`, 'utf8')) as ExecutionRecord;
          } catch {
            unreadable++;
            return;
          }
          if ((record.state === 'running' || record.state === 'paused') && !this.serverAlive(record)) {
            lostIds.push(record.id);
            record.state = 'lost';
            record.lostReason = 'the server that ran it exited while it was running (crash, SIGKILL or power loss)';
            const { killed: wasAlive } = await this.options.backend
              .recover({ ...handleOf(record), executionId: record.id }, this.options.graceMs)
              .catch(() => ({ killed: false }));
            if (wasAlive) killed.add(record.id);
            if (killed.has(record.id)) record.lostReason += '; what it started was still alive and has been killed';
            await this.writeAtomic(base, record).catch(() => undefined);
          } else if (record.state === 'lost') lostIds.push(record.id);
          found.push({ ...summarise(record), base, logBytes: await this.logBytesOf(base), live: false, endedAtMs: endedAtMsOf(record) });
        }),
      );
    }
    phase('readOneByOne');
    if (this.closing) return;
    // Promise.all finished them in any order: addLoaded sorts them by base.
    this.addLoaded(found);
    await cleanResponses(this.dir, crash, names);
    phase('cleanup');
    if (this.closing) return;
    // Next start reads only this file: rewritten whenever it was not exact (missing, torn or repeated lines,
    // a removed record, records read one by one), also so no append follows a torn line.
    if (!summaries || summaries.torn > 0 || summaries.lines !== summaries.byName.size || removedByHand > 0 || found.length > 0) {
      this.rewriteSummariesLater();
    }
    // Done before the line below, which says the load is over (the bench times calls after it).
    await this.summaryWrites;
    phase('rewrite');
    const records = (summaries?.byName.size ?? 0) - removedByHand + found.length;
    const leftovers = new Set([...crash.leftovers, ...lostIds]);
    this.logger.info(
      {
        dir: this.dir,
        records,
        readOneByOne: unread.length,
        lost: lostIds.length,
        leftovers: leftovers.size,
        killed: killed.size,
        unreadable,
        tempFilesRemoved: crash.tempFilesRemoved,
        orphanLogSetsRemoved: crash.orphanLogSetsRemoved,
        // ms after the load began at which each step ended (it runs while the server serves)
        phaseMs,
      },
      `records: found ${records}, marked ${lostIds.length} lost; dead servers left ${leftovers.size} execution(s), ${killed.size} still running (killed); ` +
        `removed ${crash.tempFilesRemoved} temp file(s) and ${crash.orphanLogSetsRemoved} log set(s) without a record`,
    );
    this.loading = false;
    await this.prune();
  }

  /** Past entries (sorted by base) into the index, behind whatever this run added meanwhile. */
  private addLoaded(entries: IndexEntry[]): void {
    let sorted = true;
    for (let i = 1; i < entries.length && sorted; i++) if (entries[i - 1]!.base > entries[i]!.base) sorted = false;
    if (!sorted) entries.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
    this.index.addSorted(entries);
  }

  private summaryLine(e: IndexEntry): string {
    const { base, logBytes, live: _live, endedAtMs, saveErrors, ...summary } = e;
    const line: SummaryLine = { n: `${basename(base)}${RECORD_SUFFIX}`, s: summary, l: logBytes, e: endedAtMs };
    if (saveErrors && saveErrors.length > 0) line.x = saveErrors;
    return `${JSON.stringify(line)}\n`;
  }

  /**
   * After start, off the start's path: the file is rewritten to hold exactly the finished records found
   * (temp file, then rename). In the queue of appends, so none is lost to the rename; built in slices so the
   * event loop keeps serving (100,000 lines take a few hundred ms).
   */
  private rewriteSummariesLater(): void {
    // Start order: the next start's index then takes the lines as they come, without a sort.
    const entries = this.index.inOrder();
    this.summaryWrites = this.summaryWrites.then(async () => {
      const file = join(this.dir, SUMMARIES_FILE);
      const tmp = `${file}.tmp-${process.pid}`;
      try {
        const lines: string[] = [];
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i]!;
          // Still known and final (retention may have removed it since; a finished run's line is appended anyway).
          if (this.index.get(e.id) === e && !e.live && isFinal(e.state)) lines.push(this.summaryLine(e));
          if (i % SUMMARY_SLICE === SUMMARY_SLICE - 1) await new Promise((r) => setImmediate(r));
        }
        await writeFile(tmp, lines.join(''));
        await rename(tmp, file);
      } catch (e) {
        // Only the next start's speed depends on it.
        this.logger.warn({ err: (e as Error).message }, 'cannot write the records summary file');
        await rm(tmp, { force: true }).catch(() => undefined);
      }
    });
  }

  private appendSummary(e: IndexEntry): void {
    const line = this.summaryLine(e);
    this.summaryWrites = this.summaryWrites.then(() => appendFile(join(this.dir, SUMMARIES_FILE), line).catch(() => undefined));
  }

  private serverAlive(record: ExecutionRecord): boolean {
    return record.server !== undefined && this.options.identity.isRunning(record.server);
  }

  private async logBytesOf(base: string): Promise<number> {
    let total = 0;
    for (const p of outputFileList(base)) {
      try {
        total += (await stat(p)).size;
      } catch {
        // missing log: counts as empty
      }
    }
    return total;
  }

  /** Start recording an execution: open its log files (replaying what is already in memory) and write the first record. */
  begin(execution: Execution, meta: RecordMeta): void {
    const base = join(this.dir, `${compactTimestamp(execution.startedAt)}_${execution.id}`);
    const saveErrors: string[] = [];
    if (this.dirError) saveErrors.push(this.dirError);
    const report = (what: string) => {
      if (saveErrors.length === 0)
        this.logger.error({ execution: shortId(execution.id), err: what }, 'cannot save execution output or record');
      saveErrors.push(what);
    };
    const files = new OutputFiles(base, (m) => report(`output log: ${m}`));
    const unfollow = execution.log.follow(files);
    const live: LiveRecord = { execution, base, files, saveErrors, writes: Promise.resolve(), meta, unfollow };
    this.live.set(execution.id, live);
    const first = this.build(live);
    const entry: IndexEntry = { ...summarise(first), base, logBytes: 0, live: true, endedAtMs: null };
    this.index.set(entry);
    this.writeFirst(live, first);
  }

  /**
   * The first record, synchronously (temp file renamed to the record's fresh name: no rename over a file,
   * so no writeback starts). Called right after the spawn, while the command runs: asynchronously it took
   * four thread-pool round trips, which on a busy machine often landed after a short command had ended,
   * and the final record (written before execute answers) had to wait for it.
   */
  private writeFirst(live: LiveRecord, record: ExecutionRecord): void {
    if (this.dirError) return;
    const file = `${live.base}${RECORD_SUFFIX}`;
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
      renameSync(tmp, file);
    } catch (e) {
      rmSync(tmp, { force: true });
      this.recordWriteFailed(live, e as Error);
    }
  }

  private recordWriteFailed(live: LiveRecord, e: Error): void {
    if (live.saveErrors.some((m) => m.startsWith('record:'))) return;
    this.logger.error({ execution: shortId(live.execution.id), err: e.message }, 'cannot write execution record');
    live.saveErrors.push(`record: ${e.message}`);
  }

  private build(live: LiveRecord): ExecutionRecord {
    const { execution: e, meta } = live;
    const { stdout, stderr, truncated, ...s } = viewOf(e);
    const handle = e.handle.describe();
    return {
      version: 1,
      ...s,
      transport: meta.transport,
      env: redactEnv(meta.env),
      pgidStartTicks: typeof handle.startTicks === 'number' ? handle.startTicks : null,
      handle,
      server: { ...this.options.identity.self, version: VERSION },
      loadAtStart: meta.loadAtStart,
      stdout,
      stderr,
      truncated,
      logs: live.files.paths,
      saveErrors: [...live.saveErrors],
    };
  }

  private queueWrite(live: LiveRecord, record?: ExecutionRecord): Promise<void> {
    live.writes = live.writes.then(async () => {
      if (this.dirError || live.sealed) return;
      try {
        const r = record ?? this.build(live);
        if (!record || !this.writeInPlace(live.base, r)) await this.writeAtomic(live.base, r);
      } catch (e) {
        this.recordWriteFailed(live, e as Error);
      }
    });
    return live.writes;
  }

  /**
   * The final record over the first one, in place: when both fit in one page, the new text is written at
   * offset 0 (padded with spaces to the old length), synchronously. A temp file renamed over the record costs
   * 10-30 times more on ext4 (a new inode, and auto_da_alloc starts writeback of it at the rename, about
   * 1 ms each on a busy disk: a thousand executions ending at shutdown spent seconds there), and truncating
   * triggers the same writeback. One page is written whole, so a reader never sees two halves. False when it
   * does not fit (or the file is not there): the caller renames a temp file instead.
   */
  private writeInPlace(base: string, record: ExecutionRecord): boolean {
    const text = `${JSON.stringify(record, null, 2)}\n`;
    const bytes = Buffer.byteLength(text);
    if (bytes > IN_PLACE_MAX_BYTES) return false;
    let fd: number;
    try {
      fd = openSync(`${base}${RECORD_SUFFIX}`, 'r+');
    } catch {
      return false;
    }
    try {
      const old = fstatSync(fd).size;
      if (old > IN_PLACE_MAX_BYTES) return false;
      // JSON allows trailing white space: the padding keeps the old tail from showing after the new text.
      writeSync(fd, bytes < old ? `${text.slice(0, -1)}${' '.repeat(old - bytes)}\n` : text, 0);
      return true;
    } finally {
      closeSync(fd);
    }
  }

  private async writeAtomic(base: string, record: ExecutionRecord): Promise<void> {
    const file = `${base}${RECORD_SUFFIX}`;
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, file);
  }

  /** The execution ended (and its post hooks ran): flush logs, write the final record, prune. */
  finish(execution: Execution): Promise<void> {
    const done = this.finishNow(execution);
    this.finishing.set(execution.id, done);
    void done.finally(() => this.finishing.delete(execution.id));
    return done;
  }

  private async finishNow(execution: Execution): Promise<void> {
    const live = this.live.get(execution.id);
    if (!live) return;
    await live.files.close();
    // The registry keeps 500 finished executions: their output log must not keep the closed streams alive.
    live.unfollow();
    const final = this.build(live);
    await this.queueWrite(live, final);
    const entry: IndexEntry = {
      ...summarise(final),
      base: live.base,
      logBytes: live.files.bytes.stdout + live.files.bytes.stderr + final.lastSeq * 16,
      live: false,
      endedAtMs: endedAtMsOf(final) ?? Date.now(),
      saveErrors: final.saveErrors,
    };
    this.index.set(entry);
    if (!this.dirError) this.appendSummary(entry);
    this.live.delete(execution.id);
    await this.prune();
  }

  /**
   * True once the execution's final record is written and its logs hold all of its output with no save
   * error: its output can be read from disk alone.
   */
  complete(id: string): boolean {
    if (this.live.has(id)) return false;
    const entry = this.index.get(id);
    return entry !== undefined && !entry.live && (entry.saveErrors?.length ?? 0) === 0 && this.dirError === null;
  }

  /**
   * Last resort before the process exits (the shutdown's hard stop, a second signal, a fatal error), after
   * everything was killed: every record still open is written final now, synchronously, so none is left
   * `running`. A run whose exit was not seen yet is recorded as ended by the shutdown, SIGKILL (what it got).
   * Returns how many records it wrote.
   */
  finalizeNow(): number {
    if (this.dirError) return 0;
    const now = new Date();
    let written = 0;
    for (const live of this.live.values()) {
      if (live.sealed) continue;
      live.sealed = true;
      const record = this.build(live);
      if (!isFinal(record.state)) {
        record.state = 'exited';
        record.terminationReason ??= 'shutdown';
        record.signal ??= 'SIGKILL';
        record.endedAt ??= now.toISOString();
        record.durationMs = now.getTime() - Date.parse(record.startedAt);
        record.stopNote = 'the server was stopped before this command ended: it was killed and this record written at the hard stop';
      }
      const file = `${live.base}${RECORD_SUFFIX}`;
      // Not the async writer's temp name: one of its writes may be in flight.
      const tmp = `${file}.tmp-${process.pid}-final`;
      try {
        if (!this.writeInPlace(live.base, record)) {
          writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
          renameSync(tmp, file);
        }
        const entry: IndexEntry = {
          ...summarise(record),
          base: live.base,
          logBytes: live.files.bytes.stdout + live.files.bytes.stderr,
          live: false,
          endedAtMs: endedAtMsOf(record),
          saveErrors: record.saveErrors,
        };
        this.index.set(entry);
        appendFileSync(join(this.dir, SUMMARIES_FILE), this.summaryLine(entry));
        written++;
      } catch {
        rmSync(tmp, { force: true });
      }
    }
    return written;
  }

  /** Wait for every pending record write and finish (shutdown). */
  async flush(): Promise<void> {
    // A background load still running stops at its next slice; what it had not done the next start does.
    this.closing = true;
    await this.loaded;
    await Promise.all([...[...this.live.values()].map((l) => l.writes), ...this.finishing.values()]);
    await this.summaryWrites;
  }

  /** Resolves once a live execution's output so far is in its log files (at once when it is not live). */
  async outputWritten(id: string): Promise<void> {
    await this.live.get(id)?.files.written();
  }

  /** Resolves once the execution's final record is written (at once if it is not being finished). Never rejects. */
  async settled(id: string): Promise<void> {
    await this.finishing.get(id)?.catch(() => undefined);
  }

  /**
   * Oldest first, while over maxRecords or maxLogBytes. Never a live execution's files, nor those of one
   * that ended less than retentionProtectMs ago: a follower reading with status cursors may still need
   * them. Entries are taken off the index (so a record is never counted twice), then their files are
   * removed, and what went is logged. One pass at a time: a pass already running sees the new totals
   * at its next slice, so a prune asked for meanwhile returns at once.
   */
  private prune(): Promise<void> {
    const { maxRecords, maxLogBytes } = this.options;
    // Until past records are in, the totals are not: the load prunes once at its end.
    if (this.loading || this.pruning) return Promise.resolve();
    if (this.index.count <= maxRecords && this.index.logBytes <= maxLogBytes) return Promise.resolve();
    this.pruning = true;
    return this.prunePass().finally(() => (this.pruning = false));
  }

  private async prunePass(): Promise<void> {
    const { maxRecords, maxLogBytes, retentionProtectMs = 0 } = this.options;
    const verdict = (e: IndexEntry, totals: { count: number; logBytes: number }, now: number) => {
      if (totals.count <= maxRecords && totals.logBytes <= maxLogBytes) return 'stop' as const;
      if (e.live) return false;
      return e.endedAtMs === null || now - e.endedAtMs >= retentionProtectMs;
    };
    let slices = 0;
    while (!this.closing) {
      // A slice of the index at a time: 99,000 records over the limit taken off in one walk (with their
      // 400,000 file names) held the event loop for over a second.
      if (slices++ > 0) await yieldToLoop();
      const now = Date.now();
      const removed = this.index.removeWhere((e, totals) => verdict(e, totals, now), PRUNE_SLICE);
      if (removed.length === 0) return;
      let bytes = 0;
      for (const e of removed) bytes += e.logBytes;
      this.logger.info(
        { removed: removed.length, logBytes: bytes, ids: removed.slice(0, 20).map((e) => shortId(e.id)), oldest: removed[0]!.startedAt },
        `retention removed ${removed.length} record(s) and ${bytes} bytes of logs, oldest first`,
      );
      // A few at a time: 90,000 records over the limit are 360,000 files, and a flood of removals would hold
      // the thread pool that running executions' record and log writes need. Shutdown does not wait for the
      // rest: those records are still named by the summaries file, so the next start's retention finds them.
      for (let i = 0; i < removed.length && !this.closing; i += BACKGROUND_BATCH / 2) {
        const paths = removed.slice(i, i + BACKGROUND_BATCH / 2).flatMap((e) => [`${e.base}${RECORD_SUFFIX}`, ...outputFileList(e.base)]);
        await Promise.all(paths.map((p) => rm(p, { force: true }).catch(() => undefined)));
      }
    }
  }

  /** History across restarts, newest first, every record looked at (see listPage). */
  list(filter: { state?: string; query?: string; limit?: number; before?: string } = {}): RecordSummary[] {
    return this.listPage(filter).records;
  }

  /**
   * History across restarts, newest first (the index is in start order: no sort, stops at the limit).
   * With `state`, a state with few records is answered from its own entries (the index groups them), not by
   * walking the whole history for them: at 100,000 records `state: "lost"` walked all of them (75-105 ms).
   * `query` matches without building a lower-case copy of every command, and looks at no more than
   * `scanBudget` records per call: when the budget ends the walk first, `next` says where to go on
   * (`before`: records older than that one). `before` (an id or unique prefix) starts below a record.
   */
  listPage(filter: HistoryFilter = {}): HistoryPage {
    const limit = filter.limit ?? 50;
    const q = filter.query === undefined || filter.query === '' ? undefined : filter.query.toLowerCase();
    // Case-insensitive like comparing lower-case copies, without one copy per record per call.
    const matches = q === undefined ? undefined : new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'iu');
    const below = filter.before === undefined ? undefined : this.find(filter.before).base;
    const budget = matches ? (filter.scanBudget ?? Infinity) : Infinity;
    const out: RecordSummary[] = [];
    let scanned = 0;
    let lastScanned = '';
    let next: HistoryPage['next'];
    const visit = (e: IndexEntry): boolean => {
      if (below !== undefined && e.base >= below) return true;
      if (scanned >= budget) {
        // Records remain (this one among them): the next page starts below the last one looked at.
        next = { before: lastScanned, scanned };
        return false;
      }
      scanned++;
      lastScanned = e.id;
      const current = e.live ? this.liveSummary(e) : e;
      if (filter.state && current.state !== filter.state) return true;
      if (matches && !matches.test(current.command)) return true;
      const { base: _b, logBytes: _l, live: _v, endedAtMs: _e, saveErrors: _s, ...summary } = current;
      out.push(summary);
      return out.length < limit;
    };
    const few = filter.state === undefined ? undefined : this.candidates(filter.state, limit);
    if (few) {
      for (const e of few) if (!visit(e)) break;
    } else this.index.visitNewestFirst(visit, below);
    return next ? { records: out, next } : { records: out };
  }

  /**
   * The entries, newest first, that may be in `state` (that state's own records and the live ones, whose state
   * is their execution's), when sorting them is cheaper than walking the history until `limit` turn up;
   * undefined when the walk is cheaper.
   */
  private candidates(state: string, limit: number): IndexEntry[] | undefined {
    const own = this.index.groupSize(state);
    const live = this.index.groupSize(LIVE_GROUP);
    const few = own + live;
    // A walk meets the state about once every count/few entries; sorting the group costs about few·log(few).
    const walk = few === 0 ? Infinity : (limit * this.index.count) / few;
    if (walk <= few * Math.log2(few + 2)) return undefined;
    if (live === 0) return this.index.inGroup(state);
    return [...this.index.inGroup(state), ...this.index.inGroup(LIVE_GROUP)].sort((a, b) =>
      a.base < b.base ? 1 : a.base > b.base ? -1 : 0,
    );
  }

  private liveSummary(e: IndexEntry): IndexEntry {
    const live = this.live.get(e.id);
    if (!live) return e;
    const s = live.execution.snapshot();
    return {
      ...e,
      state: s.state,
      exitCode: s.exitCode,
      signal: s.signal,
      terminationReason: s.terminationReason,
      durationMs: s.durationMs,
    };
  }

  /** A saved execution by full id or unique prefix; undefined when none (AMBIGUOUS_ID when several). */
  lookup(idOrPrefix: string): { summary: RecordSummary; base: string } | undefined {
    const m = matchId(this.index.withPrefix(idOrPrefix), idOrPrefix, this.index.get(idOrPrefix));
    if (!m && this.loading) {
      // Not NOT_FOUND: it may be among the past records not read yet (a moment after a start).
      throw new ServerError(
        'HISTORY_LOADING',
        `no execution with id ${idOrPrefix} among the ${this.index.count} records loaded so far: the server is still loading its history; retry in a moment`,
        { records: this.index.count },
      );
    }
    return m && { summary: m, base: m.base };
  }

  /** Like lookup, but NOT_FOUND when no record matches. */
  find(idOrPrefix: string): { summary: RecordSummary; base: string } {
    const found = this.lookup(idOrPrefix);
    if (!found) throw new ServerError('NOT_FOUND', `no execution with id ${idOrPrefix}`);
    return found;
  }

  /** The record as saved on disk. */
  read(idOrPrefix: string): ExecutionRecord {
    const { base } = this.find(idOrPrefix);
    try {
      return JSON.parse(readFileSync(`${base}${RECORD_SUFFIX}`, 'utf8')) as ExecutionRecord;
    } catch (e) {
      throw new ServerError('NOT_FOUND', `the record of ${idOrPrefix} cannot be read: ${(e as Error).message}`);
    }
  }

  /**
   * The inline output a final record holds (what a retired execution shows). When the record is gone
   * (retention removed it) or unreadable: empty text marked truncated, with the reason in stderr's place.
   */
  savedText(id: string): SavedText {
    try {
      const r = this.read(id);
      return { stdout: r.stdout, stderr: r.stderr, truncated: r.truncated };
    } catch (e) {
      return { stdout: '', stderr: `(the inline output of ${id} is no longer available: ${(e as Error).message})`, truncated: true };
    }
  }

  /** Saving problems of a live execution (for status). */
  saveErrors(id: string): string[] {
    return [...(this.live.get(id)?.saveErrors ?? this.index.get(id)?.saveErrors ?? [])];
  }

  /** The base path of a saved execution's files (exact id); undefined when it has no record. */
  baseOf(id: string): string | undefined {
    return this.index.get(id)?.base;
  }
}
