// Role: the SDK's own Client over WebSocketClientTransport runs one `execute`, counting stdout bytes from progress messages.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { performance } from 'node:perf_hooks';
import { answer, cpuMs, installGlobalWebSocket, roleArgs, runRoleMain } from '../lib/role-side.js';

interface Args {
  url: string;
  command: string;
}

runRoleMain(async () => {
  installGlobalWebSocket();
  const { url, command } = roleArgs<Args>();
  const client = new Client({ name: 'cc-executor-bench', version: '0.0.0' });
  await client.connect(new WebSocketClientTransport(new URL(url)));

  let bytes = 0;
  let notifications = 0;
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const result = await client.callTool({ name: 'execute', arguments: { command } }, undefined, {
    timeout: 600_000,
    onprogress: (p) => {
      const meta = (p as { _meta?: Record<string, unknown> })._meta;
      if (meta?.['cc-executor/stream'] !== 'stdout') return;
      notifications++;
      bytes += Buffer.byteLength(p.message ?? '');
    },
  });
  const ms = performance.now() - t0;
  const cpu = cpuMs() - cpu0;
  const s = result.structuredContent as
    { stdoutBytes?: number; exitCode?: number; signal?: string | null; terminationReason?: string | null } | undefined;
  const content = result.content as Array<{ text?: string }> | undefined;
  await client.close();
  await answer({
    type: 'result',
    bytes,
    notifications,
    ms,
    cpuMs: cpu,
    reportedBytes: s?.stdoutBytes ?? null,
    outcome: {
      isError: result.isError ?? false,
      signal: s?.signal ?? null,
      terminationReason: s?.terminationReason ?? null,
      text: content?.[0]?.text?.slice(0, 300) ?? null,
    },
    exitCode: s?.exitCode ?? null,
  });
});
