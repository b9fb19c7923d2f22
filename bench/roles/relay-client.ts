// Role: the baseline's client. A bare `ws` client that parses each JSON frame and counts the relayed bytes.
import { performance } from 'node:perf_hooks';
import { openWebSocket } from '../lib/open-web-socket.js';
import { answer, cpuMs, roleArgs, runRoleMain } from '../lib/role-side.js';

interface Args {
  url: string;
  command: string;
  /** The relay also writes the bytes to this file. */
  logFile?: string;
}

runRoleMain(async () => {
  const { url, command, logFile } = roleArgs<Args>();
  const ws = await openWebSocket(url);

  let bytes = 0;
  let frames = 0;
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as { data?: string; end?: boolean; exitCode?: number | null };
      if (m.end) resolve(m.exitCode ?? null);
      else {
        frames++;
        bytes += Buffer.byteLength(m.data ?? '');
      }
    });
    ws.once('close', () => reject(new Error('relay closed the connection early')));
    ws.send(JSON.stringify({ command, ...(logFile ? { logFile } : {}) }));
  });
  const ms = performance.now() - t0;
  const cpu = cpuMs() - cpu0;
  ws.close();
  await answer({ type: 'result', bytes, notifications: frames, ms, cpuMs: cpu, reportedBytes: null, exitCode });
});
