// Role: an MCP client on a raw `ws` socket (JSON.parse only), optionally reading at a limited rate by pausing the socket.
import { performance } from 'node:perf_hooks';
import { openWebSocket } from '../lib/open-web-socket.js';
import { readInBursts } from '../lib/read-in-bursts.js';
import { answer, cpuMs, roleArgs, runRoleMain } from '../lib/role-side.js';

interface Args {
  url: string;
  command: string;
  /** Read rate the client allows itself, bytes per second of stdout text; 0 = as fast as it can. */
  bytesPerSecond: number;
  /** Instead of a rate: read for readMs, then pause the socket for pausedMs, over and over. */
  cycle?: { readMs: number; pausedMs: number };
  /** Start the measured call at once instead of after 'ready' and the bench's go (throughput runs). */
  autoStart?: boolean;
}

interface JsonRpc {
  id?: number;
  method?: string;
  params?: { message?: string; _meta?: Record<string, unknown> };
  result?: {
    structuredContent?: {
      stdoutBytes?: number;
      exitCode?: number;
      signal?: string | null;
      terminationReason?: string | null;
      lastSeq?: number;
    };
    isError?: boolean;
    content?: Array<{ text?: string }>;
  };
  error?: { message: string };
}

/** Bytes the client may run ahead of its rate before it pauses the socket. */
const BURST_BYTES = 1024 * 1024;

runRoleMain(async () => {
  const { url, command, bytesPerSecond, cycle, autoStart } = roleArgs<Args>();
  const ws = await openWebSocket(url, 'mcp');

  const pendingCalls = new Map<number, (m: JsonRpc) => void>();
  let onProgress: (m: JsonRpc) => void = () => undefined;
  /** Largest progress frame (bytes on the wire) and largest stdout output in one notification (bytes). */
  let maxFrameBytes = 0;
  let maxOutputBytes = 0;
  ws.on('message', (raw) => {
    const text = String(raw);
    const m = JSON.parse(text) as JsonRpc;
    if (m.method === 'notifications/progress') {
      maxFrameBytes = Math.max(maxFrameBytes, (raw as Buffer).length);
      onProgress(m);
    } else if (m.method === 'ping' && m.id !== undefined) {
      // A ping from the server is answered at once, as MCP asks of every client (the SDK's Client does it):
      // the server confirms the last output notification with one before it sends a result.
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: {} }));
    } else if (m.id !== undefined) pendingCalls.get(m.id)?.(m);
  });
  ws.once('close', () => {
    for (const resolve of pendingCalls.values()) resolve({ error: { message: 'connection closed' } });
  });
  let nextId = 1;
  const request = (method: string, params: unknown): Promise<JsonRpc> => {
    const id = nextId++;
    const reply = new Promise<JsonRpc>((resolve) => pendingCalls.set(id, resolve));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    return reply.then((m) => {
      pendingCalls.delete(id);
      if (m.error) throw new Error(`${method}: ${m.error.message}`);
      return m;
    });
  };

  await request('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'cc-executor-bench-slow', version: '0.0.0' },
  });
  ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  // One small call first, so the server's idle figure is taken after its tool code has run once.
  await request('tools/call', { name: 'execute', arguments: { command: 'echo warm' } });
  if (!autoStart) {
    await answer({ type: 'ready' });
    await new Promise<void>((resolve) => process.once('message', () => resolve()));
  }

  let bytes = 0;
  let notifications = 0;
  let pauses = 0;
  let paused = false;
  const t0 = performance.now();
  onProgress = (m) => {
    if (m.params?._meta?.['cc-executor/stream'] !== 'stdout') return;
    const size = Buffer.byteLength(m.params.message ?? '');
    bytes += size;
    maxOutputBytes = Math.max(maxOutputBytes, size);
    notifications++;
    if (cycle || paused || bytesPerSecond <= 0) return;
    const allowed = ((performance.now() - t0) / 1000) * bytesPerSecond;
    const ahead = bytes - allowed;
    if (ahead > BURST_BYTES) {
      // Stop reading the socket until the rate catches up: TCP windows fill, then the server's send queue.
      paused = true;
      pauses++;
      ws.pause();
      setTimeout(
        () => {
          paused = false;
          ws.resume();
        },
        (ahead / bytesPerSecond) * 1000,
      );
    }
  };
  // With a cycle the reader is slow in bursts (and the rate limit above stays out of it).
  const bursts = cycle ? readInBursts(ws, cycle) : undefined;
  const cpu0 = cpuMs();
  const reply = await request('tools/call', { name: 'execute', arguments: { command }, _meta: { progressToken: 'slow' } });
  bursts?.stop();
  ws.resume();
  const ms = performance.now() - t0;
  const s = reply.result?.structuredContent;
  const cpu = cpuMs() - cpu0;
  ws.close();
  await answer({
    type: 'result',
    bytes,
    notifications,
    ms,
    cpuMs: cpu,
    pauses: pauses + (bursts?.pauses ?? 0),
    maxFrameBytes,
    maxOutputBytes,
    reportedBytes: s?.stdoutBytes ?? null,
    // One chunk per read of the child's pipe (a read is at most 64 KiB, one chunk's limit): the server's reads.
    lastSeq: s?.lastSeq ?? null,
    outcome: {
      isError: reply.result?.isError ?? false,
      signal: s?.signal ?? null,
      terminationReason: s?.terminationReason ?? null,
      text: reply.result?.content?.[0]?.text?.slice(0, 300) ?? null,
    },
    exitCode: s?.exitCode ?? null,
  });
});
