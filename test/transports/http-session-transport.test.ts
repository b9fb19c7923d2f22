// The Streamable HTTP session transport on a real server: ready frames on SSE, every byte metered, streams that close early.
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { callWithProgress, structured, waitFor } from '../helpers/server.js';
import { INITIALIZE, MCP_HEADERS } from '../helpers/raw-http.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

interface Posted {
  req: ClientRequest;
  res: IncomingMessage;
}

/** POST one JSON-RPC message with node:http; the response is handed over unread. */
function postRaw(url: string, body: unknown, sessionId?: string): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const headers = { ...MCP_HEADERS, 'mcp-protocol-version': '2025-06-18', ...(sessionId ? { 'mcp-session-id': sessionId } : {}) };
    const req = request(url, { method: 'POST', headers }, (res) => resolve({ req, res }));
    req.once('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The whole body as bytes. */
async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The JSON-RPC messages of an SSE body (events without data, such as keep-alive comments, skipped). */
function sseMessages(body: string): any[] {
  return body
    .split('\n\n')
    .map((event) => event.split('\n').find((line) => line.startsWith('data: ')))
    .filter((data): data is string => data !== undefined)
    .map((data) => JSON.parse(data.slice('data: '.length)));
}

async function openSession(url: string): Promise<string> {
  const init = await postRaw(url, INITIALIZE);
  await readAll(init.res);
  const sessionId = init.res.headers['mcp-session-id'] as string;
  await readAll((await postRaw(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId)).res);
  return sessionId;
}

const call = (id: number, command: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'execute', arguments: { command }, _meta: { progressToken: `p${id}` } },
});

describe('Streamable HTTP session transport', () => {
  it('counts every byte of an SSE response in the flow meter, output that JSON-escapes six-fold included', async () => {
    const server = await fx.start({ progressChunkBytes: 16 * 1024 });
    const url = server.net.httpUrl;
    const sessionId = await openSession(url);
    const session = server.engine.sessions.get(sessionId)!;
    await waitFor(() => session.flow.pendingBytes === 0, 10_000, 'the initialize response to be written');
    const before = session.flow.trackedBytes;

    // 200 KB of NUL bytes (six bytes each on the wire), then quotes, a backslash and multi-byte characters.
    const { res } = await postRaw(url, call(1, `head -c 200000 /dev/zero; printf '"q" \\\\ é €𝄞 end\\n'`), sessionId);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const body = await readAll(res);
    await waitFor(() => session.flow.pendingBytes === 0, 10_000, 'every frame to be written');
    expect(body.length).toBeGreaterThan(6 * 200_000);
    expect(session.flow.trackedBytes - before).toBe(body.length);

    const messages = sseMessages(body.toString('utf8'));
    const result = messages.find((m) => m.id === 1).result.structuredContent;
    groups.add(result.pgid);
    const streamed = messages
      .filter((m) => m.method === 'notifications/progress' && m.params._meta['cc-executor/stream'] === 'stdout')
      .map((m) => m.params.message as string)
      .join('');
    expect(streamed).toBe('\0'.repeat(200_000) + '"q" \\ é €𝄞 end\n');
    expect(result).toMatchObject({ exitCode: 0, stdoutBytes: Buffer.byteLength(streamed) });
  });

  it("streams output with quotes, backslashes, control bytes and multi-byte characters intact to the SDK's own client", async () => {
    const server = await fx.start({ progressCoalesceMs: 5 });
    const { client } = await fx.connectHttp(server.net.httpUrl);
    const { result, streamed } = await callWithProgress(client, 'execute', {
      command: `for i in $(seq 1 200); do printf 'line %d "x\\\\y" \\t é 𝄞\\n' $i; done`,
    });
    const s = structured(result);
    groups.add(s.pgid);
    expect(s.exitCode).toBe(0);
    expect(s.stdout).toBe(Array.from({ length: 200 }, (_, i) => `line ${i + 1} "x\\y" \t é 𝄞\n`).join(''));
    expect(streamed.stdout).toBe(s.stdout);
  });

  it('empties the meter when a client leaves an SSE stream with output stalled behind it, and the session serves the next call', async () => {
    const server = await fx.start({ highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024, progressChunkBytes: 16 * 1024 });
    const url = server.net.httpUrl;
    const sessionId = await openSession(url);
    const session = server.engine.sessions.get(sessionId)!;
    const flood = await postRaw(url, call(1, `head -c ${64 * 1024 * 1024} /dev/zero | tr '\\0' x`), sessionId);
    flood.res.pause();
    await waitFor(() => session.flow.full, 20_000, 'the flow meter to fill while nobody reads');
    const execution = server.engine.executions.list({ sessionId })[0]!;
    groups.add(execution.snapshot().pgid);

    // The client goes away with bytes still queued for it: they are settled, not waited for forever.
    flood.req.destroy();
    await waitFor(() => !session.flow.full && session.flow.pendingBytes === 0, 20_000, 'the meter to empty');
    await waitFor(() => execution.state !== 'running', 30_000, 'the flood to end');
    expect(server.engine.sessions.get(sessionId)).toBeDefined();

    const next = await postRaw(url, call(2, 'echo still here'), sessionId);
    const messages = sseMessages((await readAll(next.res)).toString('utf8'));
    const result = messages.find((m) => m.id === 2).result.structuredContent;
    groups.add(result.pgid);
    expect(result).toMatchObject({ exitCode: 0, stdout: 'still here\n' });
  });

  it('opens a GET stream with its headers before any event, and refuses a second one with 409 as the SDK does', async () => {
    const server = await fx.start();
    const url = server.net.httpUrl;
    const sessionId = await openSession(url);
    const headers = { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
    const get = () =>
      new Promise<Posted>((resolve, reject) => {
        const req = request(url, { method: 'GET', headers }, (res) => resolve({ req, res }));
        req.once('error', reject);
        req.end();
      });
    const first = await get();
    try {
      expect(first.res.statusCode).toBe(200);
      expect(first.res.headers['content-type']).toBe('text/event-stream');
      expect(first.res.headers['mcp-session-id']).toBe(sessionId);
      const second = await get();
      expect(second.res.statusCode).toBe(409);
      expect(JSON.parse((await readAll(second.res)).toString())).toMatchObject({
        error: { code: -32000, message: expect.stringMatching(/Conflict/) },
      });
      expect(server.engine.sessions.get(sessionId)!.connected()).toBe(true);
    } finally {
      first.req.destroy();
    }
    // The stream's end is the session's: no request open, nothing connected.
    await waitFor(() => !server.engine.sessions.get(sessionId)!.connected(), 10_000, 'the session to count as disconnected');
  });
});
