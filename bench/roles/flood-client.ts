// Role: a raw `ws` MCP client that keeps N executions flooding output to it, reading as fast as it can, until told to stop.
import { openWebSocket } from '../lib/open-web-socket.js';
import { answer, roleArgs, runRoleMain } from '../lib/role-side.js';

interface Args {
  url: string;
  /** How many executions flood at once. */
  floods: number;
  /** The command each one runs (it should outlast the measurement). */
  command: string;
}

runRoleMain(async () => {
  const { url, floods, command } = roleArgs<Args>();
  const ws = await openWebSocket(url, 'mcp');
  let bytes = 0;
  let initialized: (() => void) | undefined;
  ws.on('message', (raw) => {
    // Parse every message, as a real client would: that is the reading cost the server sees.
    const m = JSON.parse(String(raw)) as { id?: number; params?: { message?: string } };
    if (m.id === 0) initialized?.();
    bytes += m.params?.message?.length ?? 0;
  });
  const send = (message: unknown) => ws.send(JSON.stringify({ jsonrpc: '2.0', ...(message as object) }));
  await new Promise<void>((resolve) => {
    initialized = resolve;
    send({
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'flood', version: '0' } },
    });
  });
  send({ method: 'notifications/initialized' });
  for (let i = 1; i <= floods; i++) {
    send({ id: i, method: 'tools/call', params: { name: 'execute', arguments: { command }, _meta: { progressToken: `flood-${i}` } } });
  }
  // Ready once output is flowing from the floods.
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (bytes > floods * 1024 * 1024) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  await answer({ type: 'ready' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const total = bytes;
  // Closing the session terminates its executions (reason 'disconnect').
  ws.close();
  await answer({ type: 'result', chars: total });
});
