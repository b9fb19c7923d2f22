// Event-loop delay while the LoadMonitor samples continuously, against the same process not sampling.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import si from 'systeminformation';
import { LoadMonitor } from '../src/system/load-monitor.js';

const WINDOW_MS = Number(process.env.BENCH_LOOP_MS ?? 4_000);

async function p99DelayMs(during: () => () => void): Promise<{ p50: number; p99: number; max: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const stop = during();
  h.enable();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  h.disable();
  stop();
  return { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}

export interface EventLoopFigures {
  idle: { p50: number; p99: number; max: number };
  sampling: { p50: number; p99: number; max: number };
  siGraphics: { p50: number; p99: number; max: number } | null;
}

export async function runEventLoopBench(): Promise<EventLoopFigures> {
  const idle = await p99DelayMs(() => () => undefined);
  // Sample as fast as the config allows (100 ms), CPU and GPU, for the whole window.
  const sampling = await p99DelayMs(() => {
    const m = new LoadMonitor({ cpuThreshold: 14, gpuThreshold: 14, multiplier: 3, cpuSampleMs: 100, gpuSampleMs: 100 });
    m.start();
    return () => m.stop();
  });
  // For contrast: systeminformation's graphics(), which runs nvidia-smi/lspci synchronously.
  let siGraphics: EventLoopFigures['siGraphics'] = null;
  if (process.env.BENCH_SI_GRAPHICS !== '0') {
    siGraphics = await p99DelayMs(() => {
      const t = setInterval(() => void si.graphics().catch(() => undefined), 500);
      return () => clearInterval(t);
    });
  }
  return { idle, sampling, siGraphics };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const f = await runEventLoopBench();
  const row = (name: string, v: { p50: number; p99: number; max: number } | null) =>
    v ? `${name.padEnd(34)} p50 ${v.p50.toFixed(2)} ms  p99 ${v.p99.toFixed(2)} ms  max ${v.max.toFixed(2)} ms` : `${name}: skipped`;
  console.log(row('idle (baseline)', f.idle));
  console.log(row('LoadMonitor sampling every 100 ms', f.sampling));
  console.log(row('si.graphics() every 500 ms', f.siGraphics));
  console.log(`p99 ratio sampling/idle: ${(f.sampling.p99 / f.idle.p99).toFixed(2)}x`);
}
