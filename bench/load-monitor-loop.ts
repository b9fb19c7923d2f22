// Figure 4: event-loop delay of a process whose LoadMonitor samples continuously (bench/event-loop.ts), as table rows.
import { runEventLoopBench } from './event-loop.js';
import type { BenchContext, Row } from './lib/report.js';
import { round } from './lib/stats.js';

export async function benchLoadMonitorLoop(ctx: BenchContext): Promise<Row[]> {
  ctx.progress(`event loop: idle, LoadMonitor sampling, si.graphics() (${process.env.BENCH_LOOP_MS ?? 4000} ms each)`);
  const f = await runEventLoopBench();
  ctx.details.eventLoop = f;
  const rows: Row[] = [
    {
      id: 'loop-load-monitor-p99',
      figure: 'event-loop delay p99, LoadMonitor sampling every 100 ms (vs idle)',
      unit: 'ms',
      ours: round(f.sampling.p99, 3),
      baseline: round(f.idle.p99, 3),
      ratio: round(f.sampling.p99 / f.idle.p99, 3),
      target: '-',
      pass: null,
    },
  ];
  if (f.siGraphics) {
    rows.push({
      id: 'loop-si-graphics-p99',
      figure: "event-loop delay p99, systeminformation's graphics() (contrast)",
      unit: 'ms',
      ours: round(f.siGraphics.p99, 3),
      baseline: round(f.idle.p99, 3),
      ratio: round(f.siGraphics.p99 / f.idle.p99, 3),
      target: '-',
      pass: null,
    });
  }
  return rows;
}
