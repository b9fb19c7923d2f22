// Role: an MCP client over Streamable HTTP with raw node:http (SSE parsed by hand), reading its SSE stream in bursts.
import { request, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { readInBursts } from '../lib/read-in-bursts.js';
import { answer, cpuMs, roleArgs, runRoleMain } from '../lib/role-side.js';

interface Args {
  /** The server's /mcp URL. */
  url: string;
  command: string;
  /** Read for readMs, then pause the response for pausedMs, over and over. */
  cycle: { readMs: number; pausedMs: number };
}

interface JsonRpc {
  id?: number;
  method?: string;
  params?: { message?: string; _meta?: Record<string, unknown> };
  result?: { structuredContent?: { stdoutBytes?: number; exitCode?: number }; isError?: boolean };
  error?: { message: string };
}

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };

function post(url: string, body: unknown, sessionId?: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...HEADERS, ...(sessionId ? { 'mcp-session-id': sessionId } : {}) } }, resolve);
    req.once('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Read an SSE response to its end, handing each JSON-RPC message to `onMessage`. */
function readEvents(res: IncomingMessage, onMessage: (m: JsonRpc) => void): Promise<void> {
  let buffered = '';
  res.setEncoding('utf8');
  res.on('data', (text: string) => {
    buffered += text;
    let end: number;
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.split('\n').find((line) => line.startsWith('data: '));
      if (data !== undefined) onMessage(JSON.parse(data.slice('data: '.length)) as JsonRpc);
    }
  });
  return new Promise((resolve, reject) => {
    res.once('end', resolve);
    res.once('error', reject);
  });
}

async function call(
  url: string,
  sessionId: string | undefined,
  id: number,
  method: string,
  params: unknown,
  onProgress?: (m: JsonRpc) => void,
) {
  const res = await post(url, { jsonrpc: '2.0', id, method, params }, sessionId);
  let reply: JsonRpc | undefined;
  const done = readEvents(res, (m) => (m.id === id ? (reply = m) : onProgress?.(m)));
  return { res, reply: done.then(() => reply ?? { error: { message: `no answer to ${method} (HTTP ${res.statusCode})` } }) };
}

runRoleMain(async () => {
  const { url, command, cycle } = roleArgs<Args>();
  const init = await call(url, undefined, 1, 'initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'cc-executor-bench-sse', version: '0.0.0' },
  });
  const sessionId = init.res.headers['mcp-session-id'] as string;
  await init.reply;
  (await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId)).resume();
  // One small call first, so the server's idle figure is taken after its tool code has run once.
  await (
    await call(url, sessionId, 2, 'tools/call', { name: 'execute', arguments: { command: 'echo warm' } })
  ).reply;
  await answer({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));

  let bytes = 0;
  const t0 = performance.now();
  const cpu0 = cpuMs();
  const { res, reply } = await call(
    url,
    sessionId,
    3,
    'tools/call',
    { name: 'execute', arguments: { command }, _meta: { progressToken: 'slow' } },
    (m) => {
      if (m.method === 'notifications/progress' && m.params?._meta?.['cc-executor/stream'] === 'stdout')
        bytes += Buffer.byteLength(m.params.message ?? '');
    },
  );
  const bursts = readInBursts(res, cycle);
  const m = await reply;
  bursts.stop();
  const ms = performance.now() - t0;
  if (m.error) throw new Error(`tools/call: ${m.error.message}`);
  const s = m.result?.structuredContent;
  await answer({
    type: 'result',
    bytes,
    ms,
    cpuMs: cpuMs() - cpu0,
    pauses: bursts.pauses,
    reportedBytes: s?.stdoutBytes ?? null,
    exitCode: s?.exitCode ?? null,
  });
});
