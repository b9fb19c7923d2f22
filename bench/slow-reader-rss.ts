// Figure 3: server memory while a slow client reads 1 GiB: back-pressure must hold the output back, not buffer it.
import { producerCommand } from './lib/producer.js';
import { readMemory, RssSampler } from './lib/proc-stats.js';
import type { BenchContext, Row } from './lib/report.js';
import { startRole, type RoleMessage } from './lib/role.js';
import { startServer } from './lib/server.js';
import { MIB, median, round } from './lib/stats.js';

export interface SlowReaderOptions {
  mib: number;
  rateMiBps: number;
}

interface SlowResult extends RoleMessage {
  bytes: number;
  ms: number;
  cpuMs: number;
  pauses: number;
  reportedBytes: number | null;
  exitCode: number | null;
}

const RSS_TARGET_MIB = 64;
const IDLE_SAMPLES = 10;
const SAMPLE_MS = 20;

export async function benchSlowReaderRss(ctx: BenchContext, opts: SlowReaderOptions): Promise<Row[]> {
  const bytes = Math.round(opts.mib * MIB);
  const server = await startServer(ctx.children);
  const client = startRole(ctx.children, 'raw-mcp-client', {
    url: server.url,
    command: producerCommand(bytes),
    bytesPerSecond: opts.rateMiBps * MIB,
  });
  try {
    await client.next('ready', 20_000);
    // Idle: connected, one call done, nothing running. Let startup garbage settle first.
    await new Promise((r) => setTimeout(r, 1_000));
    const idleSamples: number[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      idleSamples.push(readMemory(server.pid)!.rss);
      await new Promise((r) => setTimeout(r, 50));
    }
    const idle = median(idleSamples);
    const hwmBefore = readMemory(server.pid)!.hwm;

    ctx.progress(`slow reader: ${opts.mib} MiB at ${opts.rateMiBps} MiB/s (idle RSS ${(idle / MIB).toFixed(1)} MiB)`);
    const sampler = new RssSampler(server.pid, SAMPLE_MS);
    client.send({ type: 'go' });
    const timeoutMs = 60_000 + (bytes / (opts.rateMiBps * MIB)) * 1000 * 3;
    let r: SlowResult;
    try {
      r = await client.next<SlowResult>('result', timeoutMs);
    } finally {
      sampler.stop();
    }
    const hwm = readMemory(server.pid)!.hwm;
    const ok = r.bytes === bytes && r.exitCode === 0 && r.reportedBytes === bytes;
    const peak = Math.max(hwm, sampler.peakRss);
    const overIdle = (peak - idle) / MIB;
    ctx.details.slowReader = {
      bytes,
      rateMiBps: opts.rateMiBps,
      deliveredBytes: r.bytes,
      reportedBytes: r.reportedBytes,
      achievedMiBps: round(r.bytes / MIB / (r.ms / 1000)),
      clientPauses: r.pauses,
      idleRssMiB: round(idle / MIB),
      hwmBeforeMiB: round(hwmBefore / MIB),
      hwmAfterMiB: round(hwm / MIB),
      sampledPeakRssMiB: round(sampler.peakRss / MIB),
      samples: sampler.samples,
    };
    return [
      {
        id: 'slow-reader-rss',
        figure: `server peak RSS, ${opts.mib} MiB to a ${opts.rateMiBps} MiB/s reader (vs idle)`,
        unit: 'MiB',
        ours: round(peak / MIB),
        baseline: round(idle / MIB),
        ratio: round(peak / idle, 3),
        target: `< idle + ${RSS_TARGET_MIB} MiB`,
        pass: ok && overIdle < RSS_TARGET_MIB,
        note:
          `+${overIdle.toFixed(1)} MiB over idle (VmHWM; sampled VmRSS peak ${(sampler.peakRss / MIB).toFixed(1)} MiB); ` +
          (ok ? `all ${bytes} bytes delivered` : `DELIVERED ${r.bytes} of ${bytes} bytes (reported ${r.reportedBytes})`) +
          `, reader averaged ${(r.bytes / MIB / (r.ms / 1000)).toFixed(1)} MiB/s`,
      },
    ];
  } finally {
    await Promise.all([server.stop(), ctx.children.stop(client.child)]);
  }
}
