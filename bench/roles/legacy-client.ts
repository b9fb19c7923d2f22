// Role: an original-protocol client (WebSocket without subprotocol) running one command, reading in bursts.
import { performance } from 'node:perf_hooks';
import { openWebSocket } from '../lib/open-web-socket.js';
import { readInBursts } from '../lib/read-in-bursts.js';
import { answer, cpuMs, roleArgs, runRoleMain } from '../lib/role-side.js';

interface Args {
  url: string;
  command: string;
  /** Read for readMs, then pause the socket for pausedMs, over and over. */
  cycle: { readMs: number; pausedMs: number };
}

interface Message {
  id?: number;
  method?: string;
  params?: { id?: string; data?: string; exit_code?: number | null; status?: string };
  result?: { id?: string };
  error?: { message: string };
}

runRoleMain(async () => {
  const { url, command, cycle } = roleArgs<Args>();
  const ws = await openWebSocket(url);
  let onMessage: (m: Message) => void = () => undefined;
  ws.on('message', (raw) => onMessage(JSON.parse(String(raw)) as Message));
  const run = (cmd: string, onOutput: (data: string) => void) =>
    new Promise<Message>((resolve, reject) => {
      let executionId: string | undefined;
      onMessage = (m) => {
        if (m.id === 1 && m.error) reject(new Error(`execute: ${m.error.message}`));
        if (m.id === 1 && m.result) executionId = m.result.id;
        if (m.method === 'process.output') onOutput(m.params?.data ?? '');
        if (m.method === 'process.completed' && (executionId === undefined || m.params?.id === executionId)) resolve(m);
      };
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'execute', params: { command: cmd } }));
    });
  // One small run first, so the server's idle figure is taken after its code has run once.
  await run('echo warm', () => undefined);
  await answer({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));

  let bytes = 0;
  const bursts = readInBursts(ws, cycle);
  const t0 = performance.now();
  const cpu0 = cpuMs();
  const completed = await run(command, (data) => (bytes += Buffer.byteLength(data)));
  bursts.stop();
  ws.resume();
  const ms = performance.now() - t0;
  ws.close();
  await answer({
    type: 'result',
    bytes,
    ms,
    cpuMs: cpuMs() - cpu0,
    pauses: bursts.pauses,
    // The original protocol reports no byte count: what arrived is checked against what was asked for.
    reportedBytes: bytes,
    exitCode: completed.params?.exit_code ?? null,
  });
});
