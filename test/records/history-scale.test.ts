// A history thousands of records over maxRecords: retention takes it off in slices while the store keeps
// answering, a shutdown does not wait for the removals (the next start finishes them), and a filter on a
// rare state is answered from that state's own records.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/logger.js';
import type { RecordStore } from '../../src/records/record-store.js';
import { testRecordStore } from '../helpers/record-store.js';
import { callTool, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const stores: RecordStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.flush();
});

const compact = (d: Date) => d.toISOString().replace(/[-:]/g, '');

/**
 * A data dir with `n` finished runs: one real run of a real server, cloned with new ids and start times one
 * second apart (2020 onwards) into its record, log and summary line. Every `lostEvery`-th clone is marked lost.
 */
async function clonedHistory(n: number, lostEvery = 0): Promise<{ dataDir: string; ids: string[]; lost: string[] }> {
  const dataDir = fx.tempDir('cc-history-scale-');
  await fx.start({ dataDir });
  const { id, startedAt } = structured(await callTool(await fx.connect(), 'execute', { command: 'echo template' })) as {
    id: string;
    startedAt: string;
  };
  await fx.server.engine.records.settled(id);
  await fx.server.close();
  const dir = join(dataDir, 'responses');
  const files = readdirSync(dir).filter((f) => f.includes(id));
  const templates = files.map((f) => ({ name: f, text: readFileSync(join(dir, f), 'utf8') }));
  const summary = readFileSync(join(dir, 'summaries.jsonl'), 'utf8')
    .split('\n')
    .find((l) => l.includes(id))!;
  for (const f of files) rmSync(join(dir, f));
  const stamp = compact(new Date(startedAt));
  const ids: string[] = [];
  const lost: string[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const cloneId = randomUUID();
    const at = new Date(Date.parse('2020-01-01T00:00:00.000Z') + i * 1000);
    const isLost = lostEvery > 0 && i % lostEvery === 0;
    const swap = (s: string) => {
      const t = s.split(id).join(cloneId).split(stamp).join(compact(at)).split(startedAt).join(at.toISOString());
      return isLost ? t.replace(/"state": ?"exited"/, (m) => m.replace('exited', 'lost')) : t;
    };
    for (const t of templates) writeFileSync(join(dir, swap(t.name)), swap(t.text));
    lines.push(swap(summary));
    ids.push(cloneId);
    if (isLost) lost.push(cloneId);
  }
  writeFileSync(join(dir, 'summaries.jsonl'), `${lines.join('\n')}\n`);
  return { dataDir, ids, lost };
}

/** A logger that keeps its lines (the store says what retention removed). */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  ) as unknown as Logger;
  return { logger, lines };
}

function store(dataDir: string, maxRecords: number, logger: Logger): RecordStore {
  const s = testRecordStore(dataDir, { maxRecords, logger });
  stores.push(s);
  return s;
}

const recordsOnDisk = (dataDir: string) => readdirSync(join(dataDir, 'responses')).filter((f) => /_[0-9a-f-]{36}\.json$/.test(f));

describe('a history far over maxRecords', () => {
  it('is pruned in slices, oldest first, down to the newest maxRecords, and a shutdown does not wait for the removals', async () => {
    const { dataDir, ids } = await clonedHistory(5_000);
    const first = capturingLogger();
    const s = store(dataDir, 50, first.logger);
    await s.init();
    // Shut down as soon as retention has begun: the removals stop there (before, shutdown waited for all of them).
    const begun = Date.now();
    while (!first.lines.some((l) => /^retention removed/.test(String(l.msg)))) {
      if (Date.now() - begun > 60_000) throw new Error('retention never began');
      await new Promise((r) => setTimeout(r, 5));
    }
    await s.flush();
    const passes = first.lines.filter((l) => /^retention removed/.test(String(l.msg)));
    // Taken off the index a slice at a time, never the whole excess in one walk of the event loop.
    for (const p of passes) expect(p.removed as number).toBeLessThanOrEqual(2_000);
    const leftOnDisk = recordsOnDisk(dataDir).length;
    expect(leftOnDisk).toBeGreaterThan(50);

    // The next start finds what is still over the limit and finishes the job: exactly the newest 50 remain.
    const second = capturingLogger();
    const next = store(dataDir, 50, second.logger);
    await next.init();
    await next.whenLoaded();
    const kept = ids.slice(-50);
    expect(next.list({ limit: 1000 }).map((r) => r.id)).toEqual([...kept].reverse());
    expect(
      recordsOnDisk(dataDir)
        .map((f) => f.slice(f.indexOf('_') + 1, -'.json'.length))
        .sort(),
    ).toEqual([...kept].sort());
    const removed = second.lines.filter((l) => /^retention removed/.test(String(l.msg)));
    for (const p of removed) expect(p.removed as number).toBeLessThanOrEqual(2_000);
    expect(removed.reduce((n, l) => n + (l.removed as number), 0)).toBe(leftOnDisk - 50);
  }, 180_000);

  it('answers a filter on a rare state with exactly its records, newest first, live runs included, and a query case-insensitively', async () => {
    const { dataDir, lost } = await clonedHistory(3_000, 500);
    await fx.start({ dataDir, maxRecords: 100_000 });
    await fx.server.engine.records.whenLoaded();
    const c = await fx.connect();
    const history = async (args: Record<string, unknown>) =>
      structured(await callTool(c, 'status', { scope: 'history', ...args })).executions as Array<{
        id: string;
        state: string;
        command: string;
      }>;
    expect((await history({ state: 'lost', limit: 1000 })).map((e) => e.id)).toEqual([...lost].reverse());
    expect((await history({ state: 'lost', limit: 2 })).map((e) => e.id)).toEqual([lost[5], lost[4]]);
    expect(await history({ state: 'paused' })).toEqual([]);
    // A run still going is found by its current state, and by that state only, next to the past ones.
    const { id: running } = structured(await callTool(c, 'execute', { command: 'sleep 30', background: true })) as { id: string };
    expect((await history({ state: 'running' })).map((e) => e.id)).toEqual([running]);
    expect((await history({ state: 'lost', limit: 1000 })).map((e) => e.id)).toEqual([...lost].reverse());
    await callTool(c, 'control', { id: running, action: 'kill' });
    expect(await history({ state: 'running' })).toEqual([]);
    expect((await history({ state: 'exited', limit: 1 })).map((e) => e.id)).toEqual([running]);
    // The query: any case, special characters taken literally.
    expect((await history({ query: 'ECHO TEMPLATE', limit: 1000 })).length).toBe(1_000);
    expect((await history({ query: 'echo.template' })).length).toBe(0);
    expect((await history({ query: 'SLEEP 30' })).map((e) => e.id)).toEqual([running]);
  }, 180_000);

  it('bounds a query to its scan budget and says where to go on, until the oldest record', async () => {
    const { dataDir, ids, lost } = await clonedHistory(3_000, 500);
    const s = store(dataDir, 100_000, capturingLogger().logger);
    await s.init();
    await s.whenLoaded();
    // Every command matches "echo": a full page at once, nothing more to say.
    expect(s.listPage({ query: 'ECHO', limit: 10, scanBudget: 500 })).toEqual({ records: expect.any(Array) as unknown });
    // No command matches: 500 records per page, each page older than the last, 6 pages to the oldest.
    let before: string | undefined;
    const pages: Array<{ before: string; scanned: number }> = [];
    for (;;) {
      const page = s.listPage({ query: 'no such text', scanBudget: 500, ...(before ? { before } : {}) });
      expect(page.records).toEqual([]);
      if (!page.next) break;
      pages.push(page.next);
      before = page.next.before;
    }
    expect(pages.map((p) => p.before)).toEqual([1, 2, 3, 4, 5].map((k) => ids[3_000 - 500 * k]));
    expect(pages.every((p) => p.scanned === 500)).toBe(true);
    // `before` with a state: only the older lost records, by prefix too.
    expect(s.list({ state: 'lost', before: lost[3]!.slice(0, 8) }).map((r) => r.id)).toEqual([lost[2], lost[1], lost[0]]);

    // Over MCP: the same `before`, and the listing of the newest records.
    await fx.start({ dataDir, maxRecords: 100_000 });
    await fx.server.engine.records.whenLoaded();
    const c = await fx.connect();
    const older = structured(await callTool(c, 'status', { scope: 'history', before: ids[10]!, limit: 1000 }));
    expect((older.executions as Array<{ id: string }>).map((e) => e.id)).toEqual(ids.slice(0, 10).reverse());
    expect(older.historyMore).toBeUndefined();
  }, 180_000);
});
