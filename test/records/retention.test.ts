// Retention against a follower: logs larger than maxLogBytes stay readable by status cursors until the protected time has passed.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { numberedLines, readStdoutWithStatus } from '../helpers/numbered-output.js';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();

const MIB = 1024 * 1024;

/** 4 MiB of numbered 64-byte lines: every byte checkable. */
const { command: COMMAND, expected: EXPECTED } = numberedLines(65_536);

/** Read the execution's whole output with status cursors, one small page at a time, as a slow follower does. */
function follow(c: Client, id: string, onPage: (pages: number) => Promise<void>): Promise<string> {
  return readStdoutWithStatus(c, id, 256 * 1024, (pages) => onPage(pages));
}

async function finishAnother(c: Client): Promise<void> {
  // A second execution that finishes: its end runs retention.
  const r = structured(await callTool(c, 'execute', { command: `seq -f '%063g' 1 16384` }));
  expect(r.exitCode).toBe(0);
}

describe('retention', () => {
  it('lets a follower read every byte of a run larger than maxLogBytes, also after it ended and others finished', async () => {
    await fx.serve({ maxLogBytes: 1 * MIB, outputBufferBytes: 64 * 1024 });
    const { id } = structured(await callTool(fx.client, 'execute', { command: COMMAND, background: true }));
    const c = fx.client;
    const text = await follow(c, id, async (pages) => {
      // Halfway through, the run has surely ended (it is fast) and other runs finish and prune.
      if (pages === 4) {
        await waitFor(async () => structured(await callTool(c, 'status', { id })).state === 'exited', 30_000, 'the run to end');
        await finishAnother(c);
        await finishAnother(c);
      }
    });
    expect(text.length).toBe(EXPECTED.length);
    expect(text === EXPECTED).toBe(true);
  });

  it('removes a finished run over the limits once its protected time has passed', async () => {
    await fx.serve({ maxLogBytes: 1 * MIB, retentionProtectMs: 0 });
    // Under the limit alone (768 KiB), over it once the next run's logs are added.
    const first = structured(await callTool(fx.client, 'execute', { command: `seq -f '%063g' 1 12288` }));
    await fx.server.engine.records.settled(first.id);
    expect(first.exitCode).toBe(0);
    const record = fx.server.engine.records.read(first.id);
    expect(existsSync(record.logs.stdout)).toBe(true);
    await finishAnother(fx.client);
    await waitFor(() => !existsSync(record.logs.stdout), 10_000, 'the old log to be removed');
    expect(() => fx.server.engine.records.read(first.id)).toThrow(/no execution/);
  });
});
