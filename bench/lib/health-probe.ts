// Times GET /healthz against a server again and again: its event-loop responsiveness, seen from outside.
// Any HTTP answer counts (a bare ws server answers 426), so the relay baseline can be probed the same way.
import { Agent, get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

const PROBE_GAP_MS = 20;

function probeOnce(url: string, agent: Agent): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = get(url, { agent }, (res) => {
      res.resume();
      res.once('end', () => resolve(performance.now() - t0));
    });
    req.once('error', reject);
  });
}

/** Probe `/healthz` of the server at `wsUrl` until the returned stop() is called; resolves the latencies (ms). */
export function startHealthProbe(wsUrl: string): { stop(): Promise<number[]> } {
  const url = new URL('/healthz', wsUrl.replace(/^ws/, 'http')).toString();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      latencies.push(await probeOnce(url, agent));
      await delay(PROBE_GAP_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      agent.destroy();
      return latencies;
    },
  };
}
