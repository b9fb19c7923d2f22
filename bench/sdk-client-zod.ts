// Reproduction for docs/sdk-client-throughput.md: what the SDK's Client spends per incoming progress notification, by step.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  JSONRPCMessageSchema,
  ProgressNotificationSchema,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { performance } from 'node:perf_hooks';

/** Messages of 64 KiB (BENCH_SDK_MESSAGE_BYTES) of 80-byte text lines, as cc-executor streams them; 256 MiB in all (BENCH_SDK_MIB). */
const MESSAGE_BYTES = Number(process.env.BENCH_SDK_MESSAGE_BYTES ?? 64 * 1024);
const TOTAL_MIB = Number(process.env.BENCH_SDK_MIB ?? 256);
const COUNT = Math.round((TOTAL_MIB * 1024 * 1024) / MESSAGE_BYTES);
const LINE = 'cc-executor bench line: the quick brown fox jumps over the lazy dog 0123456789ab\n';

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** One notification as a client receives it: a fresh string per message (as from a socket). */
function frameText(i: number): string {
  const message = LINE.repeat(Math.ceil(MESSAGE_BYTES / LINE.length)).slice(0, MESSAGE_BYTES - 8) + String(i).padStart(8, '0');
  return JSON.stringify({
    jsonrpc: '2.0',
    method: 'notifications/progress',
    params: { progressToken: 1, progress: i + 1, message, _meta: { 'cc-executor/stream': 'stdout' } },
  });
}

/** CPU seconds per GiB of message text for `step` run on every frame. */
function perGiB(name: string, step: (text: string) => unknown): { name: string; sPerGiB: number } {
  const cpu0 = cpuMs();
  for (let i = 0; i < COUNT; i++) step(frameText(i));
  const ms = cpuMs() - cpu0;
  return { name, sPerGiB: ms / 1000 / ((COUNT * MESSAGE_BYTES) / 2 ** 30) };
}

/** The whole Client: a linked in-memory pair whose server side is written by hand, so only the Client is measured. */
async function clientPerGiB(): Promise<{ name: string; sPerGiB: number }> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  let callId: string | number | undefined;
  serverSide.onmessage = (m: JSONRPCMessage) => {
    const msg = m as { id?: string | number; method?: string };
    if (msg.method === 'initialize') {
      void serverSide.send({
        jsonrpc: '2.0',
        id: msg.id!,
        result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'repro', version: '0' } },
      });
    } else if (msg.method === 'tools/call') callId = msg.id;
  };
  await serverSide.start();
  const client = new Client({ name: 'repro', version: '0' });
  await client.connect(clientSide);
  let received = 0;
  const call = client.callTool({ name: 'x', arguments: {} }, undefined, { onprogress: () => void received++, timeout: 600_000 });
  while (callId === undefined) await new Promise((r) => setImmediate(r));
  const cpu0 = cpuMs();
  for (let i = 0; i < COUNT; i++) {
    // Parsed here as a WebSocket transport would (JSON.parse), then handed to the Client's transport.
    await serverSide.send(JSON.parse(frameText(i)) as JSONRPCMessage);
    if (i % 64 === 63) await new Promise((r) => setImmediate(r));
  }
  await serverSide.send({ jsonrpc: '2.0', id: callId, result: { content: [] } });
  await call;
  const ms = cpuMs() - cpu0;
  await client.close();
  if (received !== COUNT) throw new Error(`onprogress saw ${received} of ${COUNT} notifications`);
  return { name: 'Client: JSON.parse + Protocol dispatch to onprogress', sPerGiB: ms / 1000 / ((COUNT * MESSAGE_BYTES) / 2 ** 30) };
}

async function main(): Promise<void> {
  const rows = [
    perGiB('make the frame text only (subtract from every row)', (t) => t.length),
    perGiB('JSON.parse (what any client must do)', (t) => JSON.parse(t)),
    perGiB('JSON.parse + JSONRPCMessageSchema.parse (WebSocketClientTransport)', (t) => JSONRPCMessageSchema.parse(JSON.parse(t))),
    perGiB('JSON.parse + isJSONRPCResultResponse (fails)', (t) => isJSONRPCResultResponse(JSON.parse(t))),
    perGiB('JSON.parse + isJSONRPCErrorResponse (fails)', (t) => isJSONRPCErrorResponse(JSON.parse(t))),
    perGiB('JSON.parse + isJSONRPCRequest (fails)', (t) => isJSONRPCRequest(JSON.parse(t))),
    perGiB('JSON.parse + isJSONRPCNotification', (t) => isJSONRPCNotification(JSON.parse(t))),
    perGiB('JSON.parse + ProgressNotificationSchema.parse', (t) => ProgressNotificationSchema.parse(JSON.parse(t))),
    await clientPerGiB(),
  ];
  const t = performance.now();
  console.log(`Node ${process.version}, ${COUNT} notifications of ${MESSAGE_BYTES} bytes (${TOTAL_MIB} MiB); CPU s per GiB:`);
  for (const r of rows) console.log(`${r.sPerGiB.toFixed(2).padStart(7)}  ${r.name}`);
  void t;
}

void main();
