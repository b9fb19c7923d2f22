// At start: stop whatever dead servers on this data dir left running (by their cgroups, then by journal
// entries) before listening, and clean what their crashes left on disk (temp files, log sets with no record) after.
import { readdirSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionBackend } from '../backends/backend.js';
import type { ExecutionJournal } from './execution-journal.js';

/** What recovery found, for the one log line and for marking records lost. */
export interface CrashRecovery {
  /** Execution ids of dead servers' runs that still had live processes (now killed). */
  killed: Set<string>;
  /** Execution ids dead servers were running (journal entries and leftover cgroups). */
  leftovers: Set<string>;
  tempFilesRemoved: number;
  orphanLogSetsRemoved: number;
}

const LOG_SUFFIXES = ['.stdout.log', '.stderr.log', '.index'];
/** A log set this old with no record is a crash leftover, whoever wrote it. */
const STALE_LOGS_MS = 60_000;

/** Removals in flight at once: a slice small enough that record writes of running executions still get the thread pool. */
const REMOVE_BATCH = 32;
/** Names looked at per turn of the event loop. */
const NAMES_PER_TURN = 5_000;

async function olderThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs > ms;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Kill what dead servers' executions left (the backend's sweep first: a cgroup tree holds everything and
 * names no stranger; then each journal entry through backend.recover: cgroup, else pgid with its start time,
 * else the execution-id marker). Never touches what a live server owns, and lists nothing in `responses/`
 * (the store cleans the disk after the server listens: cleanResponses).
 */
export async function stopLeftovers(opts: {
  journal: ExecutionJournal;
  backend: ExecutionBackend;
  graceMs: number;
}): Promise<CrashRecovery> {
  const result: CrashRecovery = { killed: new Set(), leftovers: new Set(), tempFilesRemoved: 0, orphanLogSetsRemoved: 0 };
  const swept = (await opts.backend.sweep?.(opts.graceMs)) ?? { leftovers: [], killed: [] };
  for (const id of swept.leftovers) result.leftovers.add(id);
  for (const id of swept.killed) result.killed.add(id);
  const entries = opts.journal.leftovers();
  await Promise.all(
    entries.map(async (entry) => {
      result.leftovers.add(entry.id);
      const description = {
        backend: entry.backend ?? opts.backend.name,
        pid: null,
        pgid: null,
        ...(entry.description ?? {}),
        executionId: entry.id,
        sinceTicks: entry.intendedAtTicks,
      };
      const { killed } = await opts.backend.recover(description, opts.graceMs).catch(() => ({ killed: false }));
      if (killed) result.killed.add(entry.id);
      await opts.journal.release(entry.id);
    }),
  );
  return result;
}

/** stopLeftovers, then cleanResponses on a listing of `responsesDir` (or the names given): everything at once. */
export async function recoverCrashLeftovers(opts: {
  journal: ExecutionJournal;
  backend: ExecutionBackend;
  responsesDir: string;
  graceMs: number;
  names?: string[];
}): Promise<CrashRecovery> {
  const result = await stopLeftovers(opts);
  let names = opts.names;
  try {
    names ??= readdirSync(opts.responsesDir);
  } catch {
    return result;
  }
  await cleanResponses(opts.responsesDir, result, names);
  return result;
}

/**
 * Temp files of dead writers, and output logs whose record was never written (unless a live server owns
 * them), from a listing of `dir`. Asynchronous, a few removals at a time: it runs while the server serves.
 * Adds what it removed to `result`.
 */
export async function cleanResponses(dir: string, result: CrashRecovery, names: string[]): Promise<void> {
  const records = new Set<string>();
  // Yields now and then: 300,000 names walked twice in one turn held the event loop for over a second.
  let n = 0;
  const turn = () => new Promise<void>((r) => setImmediate(r));
  for (const name of names) {
    if (++n % NAMES_PER_TURN === 0) await turn();
    if (name.endsWith('.json')) records.add(name.slice(0, -'.json'.length));
  }
  const removed = new Set<string>();
  const doomed: string[] = [];
  for (const name of names) {
    if (++n % NAMES_PER_TURN === 0) await turn();
    const tmp = name.includes('.tmp-') ? /\.tmp-(\d+)$/.exec(name) : null;
    if (tmp) {
      if (Number(tmp[1]) !== process.pid && !pidAlive(Number(tmp[1]))) {
        doomed.push(name);
        result.tempFilesRemoved++;
      }
      continue;
    }
    const suffix = LOG_SUFFIXES.find((s) => name.endsWith(s));
    if (!suffix) continue;
    const base = name.slice(0, -suffix.length);
    if (records.has(base)) continue;
    // `<timestamp>_<id>`: a live server writes the record milliseconds after opening the logs, so only a dead
    // server's run, or a log set older than that window allows, has lost its record for good.
    const id = base.slice(base.indexOf('_') + 1);
    if (!result.leftovers.has(id) && !(await olderThan(join(dir, name), STALE_LOGS_MS))) continue;
    doomed.push(name);
    removed.add(base);
  }
  for (let i = 0; i < doomed.length; i += REMOVE_BATCH) {
    await Promise.all(doomed.slice(i, i + REMOVE_BATCH).map((n) => rm(join(dir, n), { force: true }).catch(() => undefined)));
  }
  result.orphanLogSetsRemoved += removed.size;
}
