// A start reads the summaries file instead of every finished record, and keeps that file true to the records on disk.
import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callTool, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();

const summaryLines = (dir: string) =>
  readFileSync(join(dir, 'responses', 'summaries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('record summaries', () => {
  it('serves the same history after a restart from the summaries, drops removed records from them, and survives a torn line', async () => {
    const dataDir = fx.tempDir('cc-summaries-');
    await fx.start({ dataDir });
    const client = await fx.connect();
    const ids: string[] = [];
    for (const word of ['one', 'two', 'three']) ids.push(structured(await callTool(client, 'execute', { command: `echo ${word}` })).id);
    for (const id of ids) await fx.server.engine.records.settled(id);
    const before = fx.server.engine.records.list({ limit: 10 });
    await client.close();
    await fx.server.close();
    expect(summaryLines(dataDir)).toHaveLength(3);

    // A crash mid-append leaves a torn last line: ignored.
    appendFileSync(join(dataDir, 'responses', 'summaries.jsonl'), '{"n":"torn');
    await fx.start({ dataDir });
    await fx.server.engine.records.whenLoaded();
    expect(fx.server.engine.records.list({ limit: 10 })).toEqual(before);
    await fx.server.close();
    // The torn line made the file differ from the records: rewritten exactly.
    expect(summaryLines(dataDir)).toHaveLength(3);

    // A record removed by hand (or by another server's retention) leaves history and the file at the next start.
    const responses = join(dataDir, 'responses');
    const gone = readdirSync(responses).find((f) => f.endsWith(`${ids[0]}.json`))!;
    rmSync(join(responses, gone));
    await fx.start({ dataDir });
    await fx.server.engine.records.whenLoaded();
    expect(fx.server.engine.records.list({ limit: 10 }).map((s) => s.id)).toEqual([ids[2], ids[1]]);
    // The file is rewritten after the start, off its path (queued with the appends): flush waits for it.
    await fx.server.engine.records.flush();
    expect(summaryLines(dataDir)).toHaveLength(2);
  });
});
