// Keeps every execution's record (written atomically at start and end) and its output files: retention,
// history across restarts, and recovery of records left 'running' by a server that died. The format: record-format.ts.
import {
  appendFileSync,
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { appendFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ExecutionBackend } from '../backends/backend.js';
import type { ServerIdentity } from '../backends/local/server-identity.js';
import { recoverCrashLeftovers } from './crash-recovery.js';
import type { ExecutionJournal } from './execution-journal.js';
import { ServerError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Execution } from '../processes/execution.js';
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
  /** Written final synchronously by finalizeNow (the process is about to exit): no later write may replace it. */
  sealed?: boolean;
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

/** `responses/summaries.jsonl`: one line per finished run, so a start does not read every record. */
const SUMMARIES_FILE = 'summaries.jsonl';

/** One line of the summaries file: the record's file name, its summary, log bytes, end time, save errors. */
interface SummaryLine {
  n: string;
  s: RecordSummary;
  l: number;
  e: number | null;
  x?: string[];
}

function isFinal(state: string): boolean {
  return state !== 'running' && state !== 'paused';
}

function endedAtMsOf(r: { endedAt?: string | null }): number | null {
  const t = r.endedAt ? Date.parse(r.endedAt) : NaN;
  return Number.isFinite(t) ? t : null;
}

export class RecordStore {
  readonly dir: string;
  private readonly index = new RecordIndex<IndexEntry>();
  private readonly live = new Map<string, LiveRecord>();
  private readonly finishing = new Map<string, Promise<void>>();
  private dirError: string | null = null;
  /** Appends to the summaries file, one after another. */
  private summaryWrites: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly options: RecordStoreOptions,
    private readonly logger: Logger,
  ) {
    this.dir = join(dataDir, 'responses');
  }

  /** Read existing records, mark orphaned 'running' ones lost (terminating their groups), prune. */
  async init(): Promise<void> {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      this.dirError = `cannot create ${this.dir}: ${(e as Error).message}`;
      this.logger.error({ dir: this.dir, err: (e as Error).message }, 'records directory is unusable: executions run but are not saved');
      return;
    }
    // One listing for everything below (at 100,000 records it holds 300,000 names).
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      names = [];
    }
    // Before records: stop what dead servers left (cgroups, journal entries) and clean their disk leftovers.
    const crash = this.options.journal
      ? await recoverCrashLeftovers({
          journal: this.options.journal,
          backend: this.options.backend,
          responsesDir: this.dir,
          graceMs: this.options.graceMs,
          names,
        })
      : undefined;
    const found: Array<{ record: ExecutionRecord; base: string }> = [];
    let unreadable = 0;
    let records = 0;
    const lostBefore: string[] = [];
    // Summaries of finished runs (one line each, appended at finish): a record whose run is final is not read
    // again at start. 100,000 records read and parsed one by one took 9.6 s before the server listened.
    const summaries = this.readSummaries();
    let summarised = 0;
    let lost = 0;
    // Executions of dead servers that still had processes, whoever found them (sweep, journal, record).
    const killed = new Set(crash?.killed ?? []);
    const recoveries: Promise<void>[] = [];
    // Only the records sorted (start order: the index then only appends), not their logs too.
    for (const name of names.filter((n) => n.endsWith(RECORD_SUFFIX)).sort()) {
      const base = join(this.dir, name.slice(0, -RECORD_SUFFIX.length));
      const known = summaries.byName.get(name);
      if (known) {
        records++;
        summarised++;
        if (known.s.state === 'lost') lostBefore.push(known.s.id);
        this.index.set({ ...known.s, base, logBytes: known.l, live: false, endedAtMs: known.e, ...(known.x ? { saveErrors: known.x } : {}) });
        continue;
      }
      let record: ExecutionRecord;
      try {
        record = JSON.parse(readFileSync(`${base}${RECORD_SUFFIX}`, 'utf8')) as ExecutionRecord;
      } catch {
        unreadable++;
        continue;
      }
      records++;
      found.push({ record, base });
      if ((record.state === 'running' || record.state === 'paused') && !this.serverAlive(record)) {
        lost++;
        record.state = 'lost';
        record.lostReason = 'the server that ran it exited while it was running (crash, SIGKILL or power loss)';
        recoveries.push(
          this.options.backend
            .recover({ ...handleOf(record), executionId: record.id }, this.options.graceMs)
            .catch(() => ({ killed: false }))
            .then(async ({ killed: wasAlive }) => {
              if (wasAlive) killed.add(record.id);
              if (killed.has(record.id)) record.lostReason += '; what it started was still alive and has been killed';
              await this.writeAtomic(base, record).catch(() => undefined);
            }),
        );
      }
      this.index.set({ ...summarise(record), base, logBytes: this.logBytesOf(base), live: false, endedAtMs: endedAtMsOf(record) });
    }
    await Promise.all(recoveries);
    const leftovers = new Set([
      ...(crash?.leftovers ?? []),
      ...lostBefore,
      ...found.filter((f) => f.record.state === 'lost').map((f) => f.record.id),
    ]);
    // Next start reads only this file: rewritten whenever it missed records or named removed ones.
    // (a torn or repeated line, a removed record, a record read one by one): also so no append follows a torn line.
    if (summaries.lines !== records || summarised !== records) this.rewriteSummariesLater();
    const temp = crash?.tempFilesRemoved ?? 0;
    const logSets = crash?.orphanLogSetsRemoved ?? 0;
    this.logger.info(
      {
        dir: this.dir,
        records,
        readOneByOne: found.length,
        lost,
        leftovers: leftovers.size,
        killed: killed.size,
        unreadable,
        tempFilesRemoved: temp,
        orphanLogSetsRemoved: logSets,
      },
      `records: found ${records}, marked ${lost} lost; dead servers left ${leftovers.size} execution(s), ${killed.size} still running (killed); ` +
        `removed ${temp} temp file(s) and ${logSets} log set(s) without a record`,
    );
    await this.prune();
  }

  /** The summaries file's lines by record file name (the last line of a name wins); torn or odd lines are skipped. */
  private readSummaries(): { byName: Map<string, SummaryLine>; lines: number } {
    const out = new Map<string, SummaryLine>();
    let text: string;
    try {
      text = readFileSync(join(this.dir, SUMMARIES_FILE), 'utf8');
    } catch {
      return { byName: out, lines: 0 };
    }
    const keep = (l: SummaryLine) => {
      if (typeof l?.n === 'string' && typeof l.s?.id === 'string' && typeof l.s.state === 'string' && isFinal(l.s.state)) out.set(l.n, l);
    };
    const body = text.endsWith('\n') ? text.slice(0, -1) : text;
    // One parse of the whole file as an array: a third of the time of 100,000 parses of a line each.
    try {
      const all = body === '' ? [] : (JSON.parse(`[${body.replaceAll('\n', ',')}]`) as SummaryLine[]);
      for (const l of all) keep(l);
      return { byName: out, lines: all.length };
    } catch {
      // a torn line (a crash mid-append): line by line, skipping it
    }
    let lines = 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      lines++;
      try {
        keep(JSON.parse(line) as SummaryLine);
      } catch {
        // torn by a crash mid-append: that record is read on its own
      }
    }
    return { byName: out, lines };
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
    const entries = [...this.index.values()];
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

  private logBytesOf(base: string): number {
    let total = 0;
    for (const p of outputFileList(base)) {
      try {
        total += statSync(p).size;
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
    execution.log.follow(files);
    const live: LiveRecord = { execution, base, files, saveErrors, writes: Promise.resolve(), meta };
    this.live.set(execution.id, live);
    const entry: IndexEntry = { ...summarise(this.build(live)), base, logBytes: 0, live: true, endedAtMs: null };
    this.index.set(entry);
    void this.queueWrite(live);
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
        if (!live.saveErrors.some((m) => m.startsWith('record:'))) {
          this.logger.error({ execution: shortId(live.execution.id), err: (e as Error).message }, 'cannot write execution record');
          live.saveErrors.push(`record: ${(e as Error).message}`);
        }
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
    await Promise.all([...[...this.live.values()].map((l) => l.writes), ...this.finishing.values()]);
    await this.summaryWrites;
  }

  /** Resolves once a live execution's output so far is in its log files (at once when it is not live). */
  async outputWritten(id: string): Promise<void> {
    await this.live.get(id)?.files.written();
  }

  /** Resolves once the execution's final record is written (at once if it is not being finished). */
  async settled(id: string): Promise<void> {
    await this.finishing.get(id);
  }

  /**
   * Oldest first, while over maxRecords or maxLogBytes. Never a live execution's files, nor those of one
   * that ended less than retentionProtectMs ago: a follower reading with status cursors may still need
   * them. Entries are taken off the index at once (so concurrent prunes never count them twice), then
   * their files are removed, and what went is logged.
   */
  private async prune(): Promise<void> {
    const { maxRecords, maxLogBytes, retentionProtectMs = 0 } = this.options;
    if (this.index.count <= maxRecords && this.index.logBytes <= maxLogBytes) return;
    const now = Date.now();
    const removed = this.index.removeWhere((e, totals) => {
      if (totals.count <= maxRecords && totals.logBytes <= maxLogBytes) return 'stop';
      if (e.live) return false;
      return e.endedAtMs === null || now - e.endedAtMs >= retentionProtectMs;
    });
    if (removed.length === 0) return;
    const bytes = removed.reduce((n, e) => n + e.logBytes, 0);
    this.logger.info(
      { removed: removed.length, logBytes: bytes, ids: removed.slice(0, 20).map((e) => shortId(e.id)), oldest: removed[0]!.startedAt },
      `retention removed ${removed.length} record(s) and ${bytes} bytes of logs, oldest first`,
    );
    await Promise.all(
      removed.flatMap((e) =>
        [`${e.base}${RECORD_SUFFIX}`, ...outputFileList(e.base)].map((p) => rm(p, { force: true }).catch(() => undefined)),
      ),
    );
  }

  /** History across restarts, newest first (the index is in start order: no sort, stops at the limit). */
  list(filter: { state?: string; query?: string; limit?: number } = {}): RecordSummary[] {
    const q = filter.query?.toLowerCase();
    const out: RecordSummary[] = [];
    for (const e of this.index.newestFirst()) {
      const current = e.live ? this.liveSummary(e) : e;
      if (filter.state && current.state !== filter.state) continue;
      if (q && !current.command.toLowerCase().includes(q)) continue;
      const { base: _b, logBytes: _l, live: _v, endedAtMs: _e, saveErrors: _s, ...summary } = current;
      out.push(summary);
      if (out.length >= (filter.limit ?? 50)) break;
    }
    return out;
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
    const m = matchId(this.index.values(), idOrPrefix, this.index.get(idOrPrefix));
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

  /** Saving problems of a live execution (for status). */
  saveErrors(id: string): string[] {
    return [...(this.live.get(id)?.saveErrors ?? this.index.get(id)?.saveErrors ?? [])];
  }

  /** The base path of a saved execution's files (exact id); undefined when it has no record. */
  baseOf(id: string): string | undefined {
    return this.index.get(id)?.base;
  }
}
