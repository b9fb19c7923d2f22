// Output every byte of which a test can check (numbered 64-byte lines), and reading it back through status cursors.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { callTool, structured } from './server.js';

/** A command printing `count` numbered 64-byte lines, and exactly what it prints. */
export function numberedLines(count: number): { command: string; expected: string } {
  return {
    command: `seq -f '%063g' 1 ${count}`,
    expected: Array.from({ length: count }, (_, i) => `${String(i + 1).padStart(63, '0')}\n`).join(''),
  };
}

/**
 * An execution's whole stdout read with status cursors, `maxBytes` a page, as a follower does; `onPage` runs
 * after each page. Ends once the execution has exited and no more output is available.
 */
export async function readStdoutWithStatus(
  client: Client,
  id: string,
  maxBytes: number,
  onPage: (pages: number, output: { evicted: boolean }) => Promise<void> = async () => undefined,
): Promise<string> {
  let sinceSeq = 0;
  let text = '';
  let pages = 0;
  for (;;) {
    const s = structured(await callTool(client, 'status', { id, sinceSeq, maxBytes }));
    for (const chunk of s.output.chunks as Array<{ data: string; stream: string }>) if (chunk.stream === 'stdout') text += chunk.data;
    sinceSeq = s.output.nextSeq;
    await onPage(++pages, s.output);
    if (!s.output.more && s.state === 'exited') return text;
  }
}
