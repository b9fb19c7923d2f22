// Calls never outlive the client's patience: without a progress token, execute returns a running handle in time.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

/** Poll status until the execution has exited; returns its status result. */
async function waitExited(c: Client, id: string, timeoutMs: number): Promise<CallToolResult> {
  let last: CallToolResult | undefined;
  await waitFor(
    async () => {
      last = await callTool(c, 'status', { id, sinceSeq: 0 });
      return structured(last).state === 'exited';
    },
    timeoutMs,
    'the command to finish',
  );
  return last!;
}

describe('execute without a progress token', () => {
  it('returns a running handle after returnRunningAfterMs, the command goes on, status shows its end', async () => {
    await fx.serve({ returnRunningAfterMs: 1_000 });
    const started = Date.now();
    const result = await callTool(fx.client, 'execute', { command: 'sleep 4; echo done' });
    groups.addResult(result);
    const s = structured(result);
    expect(s.state).toBe('running');
    expect(Date.now() - started).toBeLessThan(3_900);
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain(`status {"id": "${s.id}", "sinceSeq": 0}`);
    const end = await waitExited(fx.client, s.id, 30_000);
    expect(structured(end).exitCode).toBe(0);
    expect(
      structured(end)
        .output.chunks.map((ch: { data: string }) => ch.data)
        .join(''),
    ).toBe('done\n');
  });

  it('waits for the end when the caller streams progress or sets waitMs', async () => {
    await fx.serve({ returnRunningAfterMs: 500 });
    const withProgress = await fx.client.callTool({ name: 'execute', arguments: { command: 'sleep 1.5; echo a' } }, undefined, {
      onprogress: () => undefined,
    });
    expect(structured(withProgress as CallToolResult).exitCode).toBe(0);
    const withWait = await callTool(fx.client, 'execute', { command: 'sleep 1.5; echo b', waitMs: 20_000 });
    expect(structured(withWait).exitCode).toBe(0);
  });

  // The real default against the SDK's real default timeout (60 s): slow on purpose.
  it(
    'hands an SDK client with the default 60 s timeout a running handle for sleep 70, which then finishes',
    { timeout: 150_000 },
    async () => {
      await fx.serve();
      const result = await callTool(fx.client, 'execute', { command: 'sleep 70; echo done' });
      groups.addResult(result);
      const s = structured(result);
      expect(s.state).toBe('running');
      const end = await waitExited(fx.client, s.id, 60_000);
      expect(structured(end).exitCode).toBe(0);
      expect(structured(end).terminationReason).toBeNull();
      expect(
        structured(end)
          .output.chunks.map((ch: { data: string }) => ch.data)
          .join(''),
      ).toBe('done\n');
    },
  );
});
