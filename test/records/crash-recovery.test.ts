// Start-up recovery after a crash: a dead server's runs are stopped and its disk leftovers cleaned, nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { EXECUTION_ID_VAR } from '../../src/backends/local/recover-orphans.js';
import { recoverCrashLeftovers } from '../../src/records/crash-recovery.js';
import { ExecutionJournal, ticksNow, type JournalEntry } from '../../src/records/execution-journal.js';
import { alive } from '../helpers/proc.js';

const startTicks = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);

const dirs: string[] = [];
const children: ChildProcess[] = [];
/** setsid'd escapes: outside every child's group, so the group kill below does not reach them. */
const escapes: number[] = [];
afterEach(() => {
  const groups = children.splice(0).map((c) => -c.pid!);
  for (const pid of [...groups, ...escapes.splice(0)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A dead server's journal entry (pid 999999999 never exists) for a command we start now. */
async function orphan(journal: ExecutionJournal, withPgid: boolean): Promise<{ id: string; pids: number[] }> {
  const id = randomUUID();
  const intendedAtTicks = ticksNow() - 1;
  const child = spawn('/bin/sh', ['-c', "setsid sh -c 'echo $$; exec sleep 300' & trap '' TERM; sleep 300"], {
    detached: true,
    env: { ...process.env, [EXECUTION_ID_VAR]: id },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  const escaped = await new Promise<number>((r) => child.stdout.once('data', (d) => r(Number(String(d).trim()))));
  escapes.push(escaped);
  const entry: JournalEntry = {
    id,
    server: { pid: 999_999_999, startTicks: 1 },
    intendedAtTicks,
    createdAt: new Date().toISOString(),
    command: 'sleep',
    backend: 'local',
    description: withPgid ? { backend: 'local', pid: child.pid, pgid: child.pid, startTicks: startTicks(child.pid!) } : null,
  };
  writeFileSync(join(journal.dir, `${id}.json`), JSON.stringify(entry));
  return { id, pids: [child.pid!, escaped] };
}

describe('recoverCrashLeftovers', () => {
  it("stops a dead server's runs (with and without a noted pgid), setsid children included, and forgets them", async () => {
    const d = mkdtempSync(join(tmpdir(), 'cc-recovery-'));
    dirs.push(d);
    const journal = new ExecutionJournal(d);
    const a = await orphan(journal, true);
    const b = await orphan(journal, false);
    const mine = journal.intend(randomUUID(), 'a live run of this server');
    const r = await recoverCrashLeftovers({
      journal,
      backend: new LocalBackend({ shell: '/bin/sh' }),
      responsesDir: join(d, 'responses'),
      graceMs: 300,
    });
    expect([...r.killed].sort()).toEqual([a.id, b.id].sort());
    const until = Date.now() + 10_000;
    while ([...a.pids, ...b.pids].some(alive) && Date.now() < until) await delay(20);
    expect([...a.pids, ...b.pids].filter(alive)).toEqual([]);
    expect(readdirSync(journal.dir)).toEqual([`${mine.id}.json`]);
  });

  it('removes dead writers\u2019 temp files and log sets whose record never came, and keeps everything else', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cc-recovery-'));
    dirs.push(d);
    const responses = join(d, 'responses');
    mkdirSync(responses);
    const journal = new ExecutionJournal(d);
    const dead = await orphan(journal, true);
    const files = {
      deadTmp: 'a.json.tmp-999999999',
      ownTmp: `b.json.tmp-${process.pid}`,
      recorded: '20260101T000000.000Z_kept.json',
      recordedLog: '20260101T000000.000Z_kept.stdout.log',
      deadLog: `20260101T000000.000Z_${dead.id}.stdout.log`,
      deadIndex: `20260101T000000.000Z_${dead.id}.index`,
      freshLog: '20260101T000000.000Z_fresh.stdout.log', // maybe a live server's, before its first record
      staleLog: '20250101T000000.000Z_stale.stderr.log',
    };
    for (const f of Object.values(files)) writeFileSync(join(responses, f), 'x');
    utimesSync(join(responses, files.staleLog), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const r = await recoverCrashLeftovers({
      journal,
      backend: new LocalBackend({ shell: '/bin/sh' }),
      responsesDir: responses,
      graceMs: 300,
    });
    expect(r.tempFilesRemoved).toBe(1);
    expect(r.orphanLogSetsRemoved).toBe(2);
    expect(readdirSync(responses).sort()).toEqual([files.ownTmp, files.recorded, files.recordedLog, files.freshLog].sort());
    expect(existsSync(join(journal.dir, `${dead.id}.json`))).toBe(false);
  });
});
