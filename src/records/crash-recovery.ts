// At start, before records are read: stop whatever dead servers on this data dir left running (by their
// cgroups, then by journal entries) and clean what their crashes left on disk (temp files, log sets with no record).
import { readdirSync, rmSync, statSync } from 'node:fs';
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

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > ms;
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
 * else the execution-id marker), then clean `responsesDir`. Never touches what a live server owns.
 */
export async function recoverCrashLeftovers(opts: {
  journal: ExecutionJournal;
  backend: ExecutionBackend;
  responsesDir: string;
  graceMs: number;
  /** The names in `responsesDir` when the caller has just listed it (a listing of 300,000 names is not free). */
  names?: string[];
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
  cleanResponses(opts.responsesDir, result, opts.names);
  return result;
}

/** Temp files of dead writers, and output logs whose record was never written (unless a live server owns them). */
function cleanResponses(dir: string, result: CrashRecovery, listed?: string[]): void {
  let names: string[];
  try {
    names = listed ?? readdirSync(dir);
  } catch {
    return;
  }
  const records = new Set<string>();
  for (const n of names) if (n.endsWith('.json')) records.add(n.slice(0, -'.json'.length));
  const removed = new Set<string>();
  for (const name of names) {
    const tmp = name.includes('.tmp-') ? /\.tmp-(\d+)$/.exec(name) : null;
    if (tmp) {
      if (Number(tmp[1]) !== process.pid && !pidAlive(Number(tmp[1]))) {
        rmSync(join(dir, name), { force: true });
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
    if (!result.leftovers.has(id) && !olderThan(join(dir, name), STALE_LOGS_MS)) continue;
    rmSync(join(dir, name), { force: true });
    removed.add(base);
  }
  result.orphanLogSetsRemoved = removed.size;
}
