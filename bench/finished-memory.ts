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
/** The target is for this many runs; later runs measure what each one adds (retention vs a plateau). */
const TARGET_RUNS = 50;

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
    const checkpoint = Math.min(TARGET_RUNS, opts.runs);
    let atCheckpoint = before;
    for (let i = 0; i < opts.runs; i++) {
      const s = await client.tool('execute', { command });
      if (s.exitCode !== 0) throw new Error(`run ${i} exited ${String(s.exitCode)}`);
      if (i + 1 === checkpoint) atCheckpoint = await settledRss(server.pid);
    }
    const after = await settledRss(server.pid);
    client.close();
    const grownAt50 = (atCheckpoint - before) / MIB;
    const grown = (after - before) / MIB;
    const later = opts.runs - checkpoint;
    const perRunKiB = later > 0 ? (after - atCheckpoint) / later / 1024 : NaN;
    ctx.details.finishedMemory = {
      runs: opts.runs,
      mibEach: opts.mibEach,
      beforeMiB: round(before / MIB),
      [`after${checkpoint}MiB`]: round(atCheckpoint / MIB),
      afterMiB: round(after / MIB),
    };
    const rows: Row[] = [
      {
        id: 'finished-memory',
        figure: `server RSS growth after ${checkpoint} finished runs of ${opts.mibEach} MiB (vs before)`,
        unit: 'MiB',
        ours: round(grownAt50),
        baseline: round(before / MIB),
        ratio: round(atCheckpoint / before, 3),
        target: `< ${TARGET_MIB} MiB`,
        pass: grownAt50 < TARGET_MIB,
        note: `RSS ${(before / MIB).toFixed(1)} -> ${(atCheckpoint / MIB).toFixed(1)} MiB, medians after 1.5 s of quiet`,
      },
    ];
    if (later > 0) {
      rows.push({
        id: 'finished-memory-per-run',
        figure: `server RSS growth per finished run between runs ${checkpoint} and ${opts.runs} (retention vs plateau)`,
        unit: 'KiB',
        ours: round(perRunKiB),
        baseline: round((grownAt50 * 1024) / checkpoint),
        ratio: null,
        target: 'report (0 = plateau)',
        pass: null,
        note: `RSS after ${opts.runs} runs ${(after / MIB).toFixed(1)} MiB (+${grown.toFixed(1)}); baseline: KiB per run over the first ${checkpoint}`,
      });
    }
    return rows;
  } finally {
    await server.stop();
  }
}
