// A start reads the summaries file instead of every finished record, and keeps that file true to the records on disk.
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { callTool, connectWs, startTestServer, structured, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

const summaryLines = (dir: string) =>
  readFileSync(join(dir, 'responses', 'summaries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('record summaries', () => {
  it('serves the same history after a restart from the summaries, drops removed records from them, and survives a torn line', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cc-summaries-'));
    server = await startTestServer({ dataDir });
    const client = await connectWs(server.url);
    const ids: string[] = [];
    for (const word of ['one', 'two', 'three']) ids.push(structured(await callTool(client, 'execute', { command: `echo ${word}` })).id);
    for (const id of ids) await server.engine.records.settled(id);
    const before = server.engine.records.list({ limit: 10 });
    await client.close();
    await server.close();
    server = undefined;
    expect(summaryLines(dataDir)).toHaveLength(3);

    // A crash mid-append leaves a torn last line: ignored.
    appendFileSync(join(dataDir, 'responses', 'summaries.jsonl'), '{"n":"torn');
    server = await startTestServer({ dataDir });
    expect(server.engine.records.list({ limit: 10 })).toEqual(before);
    await server.close();
    server = undefined;
    // The torn line made the file differ from the records: rewritten exactly.
    expect(summaryLines(dataDir)).toHaveLength(3);

    // A record removed by hand (or by another server's retention) leaves history and the file at the next start.
    const responses = join(dataDir, 'responses');
    const gone = readdirSync(responses).find((f) => f.endsWith(`${ids[0]}.json`))!;
    rmSync(join(responses, gone));
    server = await startTestServer({ dataDir });
    expect(server.engine.records.list({ limit: 10 }).map((s) => s.id)).toEqual([ids[2], ids[1]]);
    // The file is rewritten after the start, off its path (queued with the appends): flush waits for it.
    await server.engine.records.flush();
    expect(summaryLines(dataDir)).toHaveLength(2);
  });
});
