// Past records load after the server listens: history says it is loading until they are in, a data dir without a
// summaries file (an older version's) is indexed in the background, and retention waits for the whole history.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerError } from '../../src/errors.js';
import type { RecordStore } from '../../src/records/record-store.js';
import { testRecordStore } from '../helpers/record-store.js';
import { callTool, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const stores: RecordStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.flush();
});

/** A data dir holding `n` finished runs, written by a real server; their ids oldest first. */
async function history(n: number): Promise<{ dataDir: string; ids: string[] }> {
  const dataDir = fx.tempDir('cc-history-load-');
  await fx.start({ dataDir });
  const client = await fx.connect();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(structured(await callTool(client, 'execute', { command: `echo run-${i}` })).id);
  for (const id of ids) await fx.server.engine.records.settled(id);
  await client.close();
  await fx.server.close();
  return { dataDir, ids };
}

function store(dataDir: string, maxRecords = 1000): RecordStore {
  const s = testRecordStore(dataDir, { maxRecords });
  stores.push(s);
  return s;
}

const summaryLines = (dataDir: string) =>
  readFileSync(join(dataDir, 'responses', 'summaries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

function lookupError(s: RecordStore, id: string): ServerError | undefined {
  try {
    s.lookup(id);
    return undefined;
  } catch (e) {
    return e as ServerError;
  }
}

describe('history loading after start', () => {
  it('is ready to serve before past records are read, says history is loading, then serves all of it', async () => {
    const { dataDir, ids } = await history(4);
    const s = store(dataDir);
    await s.init();
    // Nothing of the past is read yet: an honest "loading", and a past id is "retry", not "no such execution".
    expect(s.historyState().loading).toBe(true);
    expect(s.list()).toEqual([]);
    expect(lookupError(s, ids[0]!)?.code).toBe('HISTORY_LOADING');
    await s.whenLoaded();
    expect(s.historyState()).toEqual({ loading: false, records: 4 });
    expect(s.list().map((r) => r.id)).toEqual([...ids].reverse());
    expect(s.lookup(ids[0]!.slice(0, 8))?.summary.id).toBe(ids[0]);
    // Once loaded, an unknown id is plainly unknown.
    expect(lookupError(s, 'ffffffff')).toBeUndefined();
    expect(s.lookup('ffffffff')).toBeUndefined();
  });

  it('indexes a data dir without a summaries file (an older version) in the background and writes the file for the next start', async () => {
    const { dataDir, ids } = await history(5);
    rmSync(join(dataDir, 'responses', 'summaries.jsonl'));
    const s = store(dataDir);
    await s.init();
    expect(s.historyState().loading).toBe(true);
    await s.whenLoaded();
    expect(s.list().map((r) => [r.id, r.state, r.exitCode])).toEqual([...ids].reverse().map((id) => [id, 'exited', 0]));
    await s.flush();
    expect(summaryLines(dataDir).map((l) => (JSON.parse(l) as { s: { id: string } }).s.id)).toEqual(ids);

    // The next start reads that file: the same history.
    const next = store(dataDir);
    await next.init();
    await next.whenLoaded();
    expect(next.list().map((r) => r.id)).toEqual([...ids].reverse());
  });

  it('prunes a history over maxRecords once it is loaded, oldest first, and keeps the newest records and their logs', async () => {
    const { dataDir, ids } = await history(5);
    const s = store(dataDir, 2);
    await s.init();
    await s.whenLoaded();
    expect(s.list().map((r) => r.id)).toEqual([ids[4], ids[3]]);
    const left = readdirSync(join(dataDir, 'responses')).filter((f) => f !== 'summaries.jsonl');
    expect(left.filter((f) => f.endsWith('.json')).map((f) => f.slice(f.indexOf('_') + 1, -'.json'.length))).toEqual([ids[3], ids[4]]);
    for (const old of ids.slice(0, 3)) expect(left.some((f) => f.includes(old))).toBe(false);
    expect(left.some((f) => f.includes(ids[4]!) && f.endsWith('.stdout.log'))).toBe(true);
  });

  it('reports over MCP that history is complete once loaded, with every past run', async () => {
    const { dataDir, ids } = await history(3);
    await fx.start({ dataDir });
    await fx.server.engine.records.whenLoaded();
    const listing = structured(await callTool(await fx.connect(), 'status', { scope: 'history' }));
    expect(listing.historyLoading).toBe(false);
    expect(listing.executions.map((e: { id: string }) => e.id)).toEqual([...ids].reverse());
    expect(existsSync(join(dataDir, 'responses', 'summaries.jsonl'))).toBe(true);
  });
});
