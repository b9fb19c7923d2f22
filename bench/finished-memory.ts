// Memory kept by finished executions: RSS after N runs of a few MiB each, against the same server before them.
import { setTimeout as delay } from 'node:timers/promises';
import { readMemory } from './lib/proc-stats.js';
import { producerCommand } from './lib/producer.js';
import { RawClient } from './lib/raw-client.js';
import type { BenchContext, Row } from './lib/report.js';
import { startServer } from './lib/server.js';
import { MIB, median, round } from './lib/stats.js';

export interface FinishedMemoryOptions {
  runs: number;
  mibEach: number;
}

const TARGET_MIB = 16;

async function settledRss(pid: number): Promise<number> {
  await delay(1_500); // timers that free memory after a run (GC, record writes) get their turn
  const samples: number[] = [];
  for (let i = 0; i < 10; i++) {
    samples.push(readMemory(pid)!.rss);
    await delay(50);
  }
  return median(samples);
}

export async function benchFinishedMemory(ctx: BenchContext, opts: FinishedMemoryOptions): Promise<Row[]> {
  const server = await startServer(ctx.children);
  try {
    const client = await RawClient.connect(server.url);
    await client.tool('execute', { command: 'echo warm' });
    const before = await settledRss(server.pid);
    ctx.progress(`finished executions: ${opts.runs} runs of ${opts.mibEach} MiB (RSS before ${(before / MIB).toFixed(1)} MiB)`);
    const command = producerCommand(Math.round(opts.mibEach * MIB));
    for (let i = 0; i < opts.runs; i++) {
      const s = await client.tool('execute', { command });
      if (s.exitCode !== 0) throw new Error(`run ${i} exited ${String(s.exitCode)}`);
    }
    const after = await settledRss(server.pid);
    client.close();
    const grown = (after - before) / MIB;
    ctx.details.finishedMemory = { runs: opts.runs, mibEach: opts.mibEach, beforeMiB: round(before / MIB), afterMiB: round(after / MIB) };
    return [
      {
        id: 'finished-memory',
        figure: `server RSS growth after ${opts.runs} finished runs of ${opts.mibEach} MiB (vs before)`,
        unit: 'MiB',
        ours: round(grown),
        baseline: round(before / MIB),
        ratio: round(after / before, 3),
        target: `< ${TARGET_MIB} MiB`,
        pass: grown < TARGET_MIB,
        note: `RSS ${(before / MIB).toFixed(1)} -> ${(after / MIB).toFixed(1)} MiB, medians after 1.5 s of quiet`,
      },
    ];
  } finally {
    await server.stop();
  }
}
