// Streamable HTTP at /mcp with the SDK's own client and with raw HTTP: tools, progress over SSE, sessions, limits, DELETE.
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { callTool, callWithProgress, isGroupStopped, structured, waitFor } from '../helpers/server.js';
import { INITIALIZE, MCP_HEADERS, postMcp } from '../helpers/raw-http.js';
import { useTestServer } from '../helpers/use-test-server.js';

// Servers and clients a test starts are closed after it; then every process group it saw must be gone.
const fx = useTestServer();
const groups = fx.groups;

const INIT = INITIALIZE;
const post = async (url: string, body: unknown, headers: Record<string, string> = {}) =>
  (await postMcp(url, body, headers)) as Awaited<ReturnType<typeof postMcp>> & { json: any };

describe('Streamable HTTP transport', () => {
  it('runs execute with progress streamed over SSE, and the streamed stdout equals the output', async () => {
    const server = await fx.start({ progressCoalesceMs: 5 });
    const { client } = await fx.connectHttp(server.net.httpUrl);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(['control', 'execute', 'status', 'write_stdin']);
    const { result, streamed } = await callWithProgress(client, 'execute', {
      command: 'for i in $(seq 1 30); do echo "line $i"; sleep 0.01; done; echo oops >&2; exit 4',
    });
    groups.addResult(result);
    const s = structured(result);
    expect(s).toMatchObject({ state: 'exited', exitCode: 4, stderr: 'oops\n' });
    expect(s.stdout).toBe(Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join(''));
    expect(streamed.stdout).toBe(s.stdout);
    expect(streamed.stderr).toBe('oops\n');
    // Arrived as several notifications, i.e. streamed while running rather than in one piece at the end.
    expect(streamed.notifications.filter((n) => n._meta?.['cc-executor/stream'] === 'stdout').length).toBeGreaterThan(1);
  });

  it('follows a background job with status and pauses, resumes and cancels its whole group', async () => {
    const server = await fx.start({ graceMs: 2_000 });
    const { client } = await fx.connectHttp(server.net.httpUrl);
    const started = structured(
      await callTool(client, 'execute', {
        command: 'sh -c "while :; do echo tick; sleep 0.05; done" & while :; do echo tock; sleep 0.05; done',
        background: true,
      }),
    );
    groups.add(started.pgid);
    const output = async () =>
      (structured(await callTool(client, 'status', { id: started.id, sinceSeq: 0 })).output.chunks as Array<{ data: string }>)
        .map((c) => c.data)
        .join('');
    await waitFor(async () => (await output()).includes('tick'), 10_000, 'output');
    await waitFor(() => listGroupMembers(started.pgid).length >= 3, 10_000, 'three members');

    expect(structured(await callTool(client, 'control', { id: started.id, action: 'pause' })).state).toBe('paused');
    await waitFor(() => isGroupStopped(started.pgid), 5_000, 'all members stopped');
    expect(structured(await callTool(client, 'status', { id: started.id })).state).toBe('paused');
    expect(structured(await callTool(client, 'control', { id: started.id, action: 'resume' })).state).toBe('running');
    const before = (await output()).length;
    await waitFor(async () => (await output()).length > before, 5_000, 'output to continue');

    const cancelled = structured(await callTool(client, 'control', { id: started.id, action: 'cancel' }));
    expect(cancelled).toMatchObject({ state: 'exited', terminationReason: 'cancel' });
    expect(listGroupMembers(started.pgid)).toEqual([]);
  });

  it('rejects requests without a session id, with an unknown one, and bodies that are not JSON, as the SDK does', async () => {
    const server = await fx.start();
    const url = server.net.httpUrl;

    const noSession = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(noSession.status).toBe(400);
    expect(noSession.json).toMatchObject({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: expect.stringMatching(/Mcp-Session-Id/) },
    });

    const unknown = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': 'no-such-session' });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: -32001, message: 'Session not found' } });

    const get = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(400);
    await get.body?.cancel();
    const del = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': 'no-such-session' } });
    expect(del.status).toBe(404);
    await del.body?.cancel();

    const garbage = await post(url, '{not json');
    expect(garbage.status).toBe(400);
    expect(garbage.json).toMatchObject({ error: { code: -32700 } });

    // An initialize the SDK refuses (no SSE in Accept) leaves no session behind.
    const refused = await post(url, INIT, { accept: 'application/json' });
    expect(refused.status).toBe(406);
    expect(server.engine.sessions.size).toBe(0);

    // A raw initialize gets a session id that then works for plain POSTs.
    const init = await post(url, INIT);
    expect(init.status).toBe(200);
    const sessionId = init.headers.get('mcp-session-id')!;
    expect(server.engine.sessions.get(sessionId)?.transport).toBe('http');
    expect(init.text).toContain('"serverInfo"');
    const list = await post(
      url,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
    );
    expect(list.status).toBe(200);
    expect(list.text).toContain('"execute"');
  });

  it('DELETE ends the session and kills its non-background executions; background ones live on', async () => {
    const server = await fx.start({ graceMs: 1_000 });
    const { client, transport } = await fx.connectHttp(server.net.httpUrl);
    const sessionId = transport.sessionId!;
    expect(server.engine.sessions.countByTransport().http).toBe(1);
    const fg = structured(await callTool(client, 'execute', { command: 'sleep 60 & sleep 60', waitMs: 200 }));
    const bg = structured(await callTool(client, 'execute', { command: 'sleep 60', background: true }));
    groups.add(fg.pgid);
    groups.add(bg.pgid);
    expect(fg.state).toBe('running');
    await waitFor(() => listGroupMembers(fg.pgid).length >= 2, 5_000, 'foreground members');

    await transport.terminateSession();
    expect(server.engine.sessions.size).toBe(0);
    await waitFor(() => listGroupMembers(fg.pgid).length === 0, 10_000, 'foreground group to die');
    expect(server.engine.executions.find(fg.id).terminationReason).toBe('disconnect');
    expect(listGroupMembers(bg.pgid).length).toBe(1);
    expect(server.engine.executions.find(bg.id).state).toBe('running');

    const after = await post(server.net.httpUrl, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, { 'mcp-session-id': sessionId });
    expect(after.status).toBe(404);
  });

  it('counts Streamable HTTP sessions toward maxSessions, shared with WebSocket', async () => {
    const server = await fx.start({ maxSessions: 1 });
    const first = await fx.connectHttp(server.net.httpUrl);
    // Connected (its SSE stream open), so it is not an idle session a newcomer could reclaim.
    await waitFor(() => server.engine.sessions.get(first.transport.sessionId!)?.connected() === true, 10_000, 'SSE stream');
    const refused = await fx.connectHttp(server.net.httpUrl).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StreamableHTTPError);
    expect((refused as StreamableHTTPError).code).toBe(503);
    expect((refused as Error).message).toMatch(/session limit reached/);
    await expect(fx.connect(server.url)).rejects.toThrow();
    expect(server.engine.sessions.size).toBe(1);

    await first.transport.terminateSession();
    const second = await fx.connectHttp(server.net.httpUrl);
    expect(second.transport.sessionId).toBeDefined();
    expect(server.engine.sessions.countByTransport()).toMatchObject({ http: 1, websocket: 0 });
  });

  it('Session.close() from the server side closes the HTTP transport and frees the slot', async () => {
    const server = await fx.start();
    const { transport } = await fx.connectHttp(server.net.httpUrl);
    const sessionId = transport.sessionId!;
    const session = server.engine.sessions.get(sessionId)!;
    session.close('idle');
    await waitFor(() => server.engine.sessions.size === 0, 5_000, 'session to end');
    const after = await post(server.net.httpUrl, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sessionId });
    expect(after.status).toBe(404);
  });
});

/**
 * POST a body of `size` bytes on a raw socket as a plain client does (all of it, then read the answer), then
 * `next` (another raw request) when given; reads until `until` matches what came back or the peer closes.
 */
async function postWholeBody(url: string, size: number, opts: { headers?: Record<string, string>; next?: string; until: RegExp }) {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect(Number(port), hostname);
  try {
    let received = '';
    let error: NodeJS.ErrnoException | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', (e) => (error = e));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const head = Object.entries({ ...MCP_HEADERS, ...opts.headers, host: `${hostname}:${port}`, 'content-length': String(size) })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const written = (data: string | Buffer) => new Promise<void>((resolve) => socket.write(data, () => resolve()));
    await written(`POST ${pathname} HTTP/1.1\r\n${head}\r\n`);
    const piece = Buffer.alloc(1 << 20, 'a');
    for (let sent = 0; sent < size && !error; sent += piece.length) await written(piece.subarray(0, Math.min(piece.length, size - sent)));
    if (opts.next !== undefined && !error) await written(opts.next);
    await Promise.race([closed, waitFor(() => opts.until.test(received), 30_000, 'the answers')]);
    return { received, error: error?.code };
  } finally {
    socket.destroy();
  }
}

/** The JSON body of the first response in `raw` (a Content-Length body). */
function firstJsonBody(raw: string): unknown {
  const start = raw.indexOf('\r\n\r\n') + 4;
  const length = Number(/content-length: (\d+)/i.exec(raw.slice(0, start))?.[1]);
  return JSON.parse(raw.slice(start, start + length));
}

describe('Streamable HTTP request size limit', () => {
  it('answers a 50 MB POST with 413 and a JSON-RPC error the client can read, then serves the next request on the connection', async () => {
    const server = await fx.start();
    const tooLarge = {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: `Payload Too Large: more than maxPayloadBytes (${server.engine.config.maxPayloadBytes})` },
    };
    const initialize = JSON.stringify(INIT);
    const next = `POST /mcp HTTP/1.1\r\nhost: ${new URL(server.net.httpUrl).host}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: ${Buffer.byteLength(initialize)}\r\n\r\n${initialize}`;
    const { received, error } = await postWholeBody(server.net.httpUrl, 50_000_000, { next, until: /"serverInfo"/ });
    // Closing the socket with the body still coming sent a TCP reset: the client saw EPIPE/ECONNRESET, not the 413.
    expect(error).toBeUndefined();
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(firstJsonBody(received)).toEqual(tooLarge);
    // The rest of the body was read out: the same connection then initializes a session.
    expect(received.slice(received.indexOf('HTTP/1.1', 1))).toMatch(/^HTTP\/1\.1 200 [^]*"serverInfo"/);
    expect(server.engine.sessions.size).toBe(1);
  }, 60_000);

  it('answers a 50 MB POST within a session that asks to close the connection with 413 too, after reading the body out', async () => {
    const server = await fx.start();
    const { client, transport } = await fx.connectHttp(server.net.httpUrl);
    const headers = { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18', connection: 'close' };
    const { received, error } = await postWholeBody(server.net.httpUrl, 50_000_000, { headers, until: /\}$/ });
    expect(error).toBeUndefined();
    expect(received).toMatch(/^HTTP\/1\.1 413 [^]*connection: close/i);
    expect(firstJsonBody(received)).toMatchObject({
      jsonrpc: '2.0',
      error: { code: -32000, message: expect.stringMatching(/^Payload Too Large/) },
    });
    // The session is unharmed.
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  }, 60_000);
});

describe('Streamable HTTP idle expiry', () => {
  it('closes an idle HTTP session through Session.close(), and keeps one whose requests keep coming', async () => {
    // 2 s: a loaded machine can leave a gap of a second between two of the busy client's requests.
    const server = await fx.start({ sessionIdleMs: 2_000 });
    const idle = await fx.connectHttp(server.net.httpUrl);
    const busy = await fx.connectHttp(server.net.httpUrl);
    const idleId = idle.transport.sessionId!;
    const until = Date.now() + 20_000;
    while (server.engine.sessions.get(idleId) !== undefined && Date.now() < until) {
      await busy.client.listTools();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(server.engine.sessions.get(idleId)).toBeUndefined();
    expect(server.engine.sessions.get(busy.transport.sessionId!)).toBeDefined();
    const after = await post(server.net.httpUrl, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': idleId });
    expect(after.status).toBe(404);
  }, 30_000);
});

describe('Streamable HTTP back-pressure', () => {
  it('pauses a flooding command while the client does not read its SSE stream, and loses nothing once it does', async () => {
    const server = await fx.start({ highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024, progressChunkBytes: 16 * 1024 });
    const url = new URL(server.net.httpUrl);
    const init = await post(url.href, INIT);
    const sessionId = init.headers.get('mcp-session-id')!;
    const totalBytes = 24 * 1024 * 1024;
    const call = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'execute',
        arguments: { command: `head -c ${totalBytes} /dev/zero | tr '\\0' x` },
        _meta: { progressToken: 'flood' },
      },
    };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' } },
        resolve,
      );
      req.once('error', reject);
      req.end(JSON.stringify(call));
    });
    expect(res.statusCode).toBe(200);
    res.pause();
    // Not reading: socket buffers fill, the session's flow meter crosses high water, the child's pipes stop.
    const session = server.engine.sessions.get(sessionId)!;
    await waitFor(() => session.flow.pauses > 0, 20_000, 'back-pressure');
    const execution = server.engine.executions.list({ sessionId })[0]!;
    groups.add(execution.snapshot().pgid);
    // Socket buffers absorb a few MiB before they are full for good: wait until the meter stays full and the output still.
    let stalled = -1;
    await waitFor(
      async () => {
        stalled = execution.log.bytes.stdout;
        if (!session.flow.full) return false;
        await new Promise((r) => setTimeout(r, 500));
        return session.flow.full && execution.log.bytes.stdout === stalled;
      },
      30_000,
      'the flow meter to stay full and the child to stall',
    );
    expect(execution.state).toBe('running');
    expect(stalled).toBeLessThan(totalBytes);

    // Reading again: everything arrives, as progress, and the call ends.
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.resume();
    await new Promise((resolve) => res.once('end', resolve));
    let streamed = 0;
    let result: any;
    for (const event of text.split('\n\n')) {
      const data = event.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const msg = JSON.parse(data.slice('data: '.length));
      if (msg.method === 'notifications/progress' && msg.params._meta['cc-executor/stream'] === 'stdout')
        streamed += msg.params.message.length;
      if (msg.id === 1) result = msg.result;
    }
    expect(result.structuredContent).toMatchObject({ state: 'exited', exitCode: 0, stdoutBytes: totalBytes });
    expect(streamed).toBe(totalBytes);
    const metrics = parsePrometheusTextFormat(await (await fetch(`${server.net.baseUrl}/metrics`)).text());
    const pauses = metrics.find((f) => f.name === 'cc_executor_backpressure_pauses_total');
    expect(Number(pauses?.metrics[0]?.value)).toBeGreaterThanOrEqual(1);
  });
});
