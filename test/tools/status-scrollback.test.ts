// status with beforeSeq: windows of output read backwards by cursor, from memory and from disk, live or finished.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describe, expect, it } from 'vitest';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

const LINES = 40_000;
const expected = Array.from({ length: LINES }, (_, i) => `${String(i + 1).padStart(6, '0')}\n`).join('');

/** Walk the whole log backwards from the tail, window by window; returns the text and the number of reads. */
async function readBackwards(c: Client, id: string, maxBytes: number): Promise<{ text: string; reads: number; tailWindow: string }> {
  const windows: string[] = [];
  let before = Number.MAX_SAFE_INTEGER;
  for (;;) {
    const out = structured(await callTool(c, 'status', { id, beforeSeq: before, maxBytes })).output;
    expect(out.chunks.length).toBeGreaterThan(0);
    const bytes = out.chunks.reduce((n: number, ch: { data: string }) => n + Buffer.byteLength(ch.data), 0);
    // At most maxBytes, except that a single chunk always comes whole.
    if (out.chunks.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
    // Contiguous, ending just before the cursor.
    out.chunks.forEach((ch: { seq: number }, i: number) => i > 0 && expect(ch.seq).toBe(out.chunks[i - 1].seq + 1));
    if (before !== Number.MAX_SAFE_INTEGER) expect(out.chunks.at(-1).seq).toBe(before - 1);
    windows.unshift(out.chunks.map((ch: { data: string }) => ch.data).join(''));
    if (!out.earlier) break;
    before = out.chunks[0].seq;
  }
  return { text: windows.join(''), reads: windows.length, tailWindow: windows.at(-1)! };
}

describe('status beforeSeq (scrollback)', () => {
  it('reads a finished log back from its tail in bounded windows that join up to the whole log', async () => {
    await fx.serve({ outputBufferBytes: 64 * 1024 });
    const r = await callTool(fx.client, 'execute', { command: `seq -w 1 ${LINES} | sed 's/^/0/'` });
    // 7 bytes a line: 280 kB, four times the memory window.
    expect(structured(r).stdoutBytes).toBe(expected.length);
    const { text, reads, tailWindow } = await readBackwards(fx.client, structured(r).id, 32 * 1024);
    expect(tailWindow.endsWith('040000\n')).toBe(true);
    expect(text).toBe(expected);
    expect(reads).toBeGreaterThan(1);
  });

  it('reads a live execution back across the seam between disk and memory', async () => {
    await fx.serve({ outputBufferBytes: 64 * 1024 });
    const r = await callTool(fx.client, 'execute', {
      command: `seq -w 1 ${LINES} | sed 's/^/0/'; sleep 60`,
      background: true,
    });
    groups.addResult(r);
    const id = structured(r).id;
    await waitFor(
      async () => structured(await callTool(fx.client, 'status', { id, maxBytes: 1 })).stdoutBytes === expected.length,
      20_000,
      'all output',
    );
    const { text } = await readBackwards(fx.client, id, 20 * 1024);
    expect(text).toBe(expected);
    await callTool(fx.client, 'control', { id, action: 'kill' });
  });

  it('refuses sinceSeq and beforeSeq together with INVALID_INPUT', async () => {
    await fx.serve();
    const r = await callTool(fx.client, 'execute', { command: 'echo hi' });
    const bad = await callTool(fx.client, 'status', { id: structured(r).id, sinceSeq: 0, beforeSeq: 5 });
    expect(bad.isError).toBe(true);
    expect(structured(bad).error.code).toBe('INVALID_INPUT');
  });
});
