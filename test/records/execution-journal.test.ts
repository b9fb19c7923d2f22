// The journal names an execution before its spawn, survives the server, and reports only dead servers' entries.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecutionJournal, parseJournalFile, ticksNow } from '../../src/records/execution-journal.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cc-journal-'));
  dirs.push(d);
  return d;
}

describe('ExecutionJournal', () => {
  it('writes the intent before spawn and where it runs after, synchronously, then forgets it on release', async () => {
    const j = new ExecutionJournal(dataDir());
    const before = ticksNow();
    const entry = j.intend('id-1', 'sleep 1');
    const file = join(j.dir, 'id-1.json');
    const onDisk = () => parseJournalFile(readFileSync(file, 'utf8')) as unknown as Record<string, unknown>;
    expect(onDisk()).toMatchObject({ id: 'id-1', command: 'sleep 1', description: null, server: { pid: process.pid } });
    expect(onDisk().intendedAtTicks).toBeGreaterThanOrEqual(before);
    j.spawned(entry, { backend: 'local', pid: 42, pgid: 42, cgroup: null });
    expect(onDisk().description).toEqual({ backend: 'local', pid: 42, pgid: 42, cgroup: null });
    await j.release('id-1');
    expect(existsSync(file)).toBe(false);
    // Releasing again (or an id it never had) is no error.
    await j.release('id-1');
    await j.settled();
  });

  it("returns a dead server's entries as leftovers, never a live server's, and removes dead temp files", () => {
    const d = dataDir();
    const mine = new ExecutionJournal(d);
    mine.intend('live-1', 'sleep 1');
    // What a server that has since died wrote (no live process has this pid and start time).
    const dead = {
      id: 'dead-1',
      server: { pid: 999_999_999, startTicks: 1 },
      intendedAtTicks: 0,
      createdAt: '',
      command: 'sleep 300',
      description: null,
    };
    writeFileSync(join(mine.dir, 'dead-1.json'), JSON.stringify(dead));
    writeFileSync(join(mine.dir, 'x.json.tmp-999999999'), '{');
    writeFileSync(join(mine.dir, `y.json.tmp-${process.pid}`), '{');
    const left = new ExecutionJournal(d).leftovers();
    expect(left.map((e) => e.id)).toEqual(['dead-1']);
    expect(readdirSync(mine.dir).sort()).toEqual(['dead-1.json', 'live-1.json', `y.json.tmp-${process.pid}`].sort());
  });

  it('reads an entry whose appended description was torn by a crash as not yet spawned, and drops an unreadable intent', () => {
    const d = dataDir();
    const j = new ExecutionJournal(d);
    const server = { pid: 999_999_999, startTicks: 1 };
    const intent = { id: 'torn-1', server, intendedAtTicks: 5, createdAt: '', command: 'sleep 1', description: null };
    writeFileSync(join(j.dir, 'torn-1.json'), `${JSON.stringify(intent)}\n{"descrip`);
    writeFileSync(join(j.dir, 'torn-2.json'), '{"id":"torn-2","ser');
    const spawned = { ...intent, id: 'spawned-1' };
    writeFileSync(join(j.dir, 'spawned-1.json'), `${JSON.stringify(spawned)}\n${JSON.stringify({ description: { pid: 7 } })}\n`);
    const left = j.leftovers().sort((a, b) => a.id.localeCompare(b.id));
    expect(left.map((e) => [e.id, e.description])).toEqual([
      ['spawned-1', { pid: 7 }],
      ['torn-1', null],
    ]);
    expect(existsSync(join(j.dir, 'torn-2.json'))).toBe(false);
  });

  it('keeps working (and writes nothing) when the data dir is unusable', () => {
    const d = dataDir();
    writeFileSync(join(d, 'journal'), 'a file where the directory should be');
    const j = new ExecutionJournal(d);
    expect(() => j.spawned(j.intend('id', 'true'), { pid: 1 })).not.toThrow();
    expect(j.leftovers()).toEqual([]);
  });
});
