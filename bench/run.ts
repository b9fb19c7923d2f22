// `npm run bench`: runs every benchmark, prints each figure against a baseline measured in the same run, writes tmp/bench/latest.json.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { VERSION } from '../src/version.js';
import { benchCliStartup } from './cli-startup.js';
import { ChildSet } from './lib/children.js';
import { renderTable, writeJson, type BenchContext, type Row } from './lib/report.js';
import { benchFinishedMemory } from './finished-memory.js';
import { benchHistoryScale } from './history-scale.js';
import { benchLineLatency } from './line-latency.js';
import { benchLoadMonitorLoop } from './load-monitor-loop.js';
import { benchRoundTrip } from './round-trip.js';
import { benchSandboxRoundTrip } from './sandbox-round-trip.js';
import { benchShutdownScale } from './shutdown-scale.js';
import { benchSlowReaderRss } from './slow-reader-rss.js';
import { benchStreamThroughput } from './stream-throughput.js';

const OUTPUT_PATH = 'tmp/bench/latest.json';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

/** BENCH_QUICK=1: smaller sizes everywhere, for iterating (about a fifth of the full run). */
const quick = process.env.BENCH_QUICK === '1';

const settings = {
  quick,
  streamMiB: envNumber('BENCH_STREAM_MIB', quick ? 64 : 256),
  streamRuns: Math.round(envNumber('BENCH_STREAM_RUNS', quick ? 1 : 5)),
  rtN: Math.round(envNumber('BENCH_RT_N', quick ? 50 : 200)),
  rtWarmup: Math.round(envNumber('BENCH_RT_WARMUP', quick ? 5 : 20)),
  sandboxN: Math.round(envNumber('BENCH_SANDBOX_N', quick ? 30 : 100)),
  slowMiB: envNumber('BENCH_SLOW_MIB', quick ? 128 : 512),
  latencyLines: Math.round(envNumber('BENCH_LATENCY_LINES', quick ? 40 : 150)),
  latencyFloods: Math.round(envNumber('BENCH_LATENCY_FLOODS', 10)),
  historyRecords: Math.round(envNumber('BENCH_HISTORY_RECORDS', quick ? 10_000 : 100_000)),
  finishedRuns: Math.round(envNumber('BENCH_FINISHED_RUNS', quick ? 50 : 150)),
  shutdownExecutions: Math.round(envNumber('BENCH_SHUTDOWN_EXECUTIONS', quick ? 300 : 1000)),
  cliN: Math.round(envNumber('BENCH_CLI_N', quick ? 5 : 20)),
  only: (process.env.BENCH_ONLY ?? 'latency,stream,rt,sandbox,rss,finished,shutdown,history,loop,cli').split(',').map((s) => s.trim()),
};

const benches: Array<{ key: string; name: string; run: (ctx: BenchContext) => Promise<Row[]> }> = [
  {
    key: 'latency',
    name: 'line latency',
    run: (ctx) => benchLineLatency(ctx, { lines: settings.latencyLines, intervalMs: 50, floods: settings.latencyFloods }),
  },
  {
    key: 'stream',
    name: 'streaming throughput',
    run: (ctx) => benchStreamThroughput(ctx, { mib: settings.streamMiB, runs: settings.streamRuns }),
  },
  {
    key: 'rt',
    name: 'execute round trip',
    run: (ctx) => benchRoundTrip(ctx, { n: settings.rtN, warmup: settings.rtWarmup, cpuN: Math.max(25, Math.round(settings.rtN / 2)) }),
  },
  {
    key: 'sandbox',
    name: 'sandboxed execute round trip',
    run: (ctx) => benchSandboxRoundTrip(ctx, { n: settings.sandboxN, warmup: settings.rtWarmup }),
  },
  {
    key: 'rss',
    name: 'slow-reader memory',
    run: (ctx) => benchSlowReaderRss(ctx, { mib: settings.slowMiB, readMs: 40, pausedMs: 150 }),
  },
  {
    key: 'finished',
    name: 'finished-execution memory',
    run: (ctx) => benchFinishedMemory(ctx, { runs: settings.finishedRuns, mibEach: 2 }),
  },
  {
    key: 'shutdown',
    name: 'shutdown at scale',
    run: (ctx) => benchShutdownScale(ctx, { executions: settings.shutdownExecutions }),
  },
  {
    key: 'history',
    name: 'history scaling',
    run: (ctx) => benchHistoryScale(ctx, { records: settings.historyRecords, calls: quick ? 20 : 50, starts: quick ? 2 : 3 }),
  },
  { key: 'loop', name: 'load-monitor event loop', run: benchLoadMonitorLoop },
  { key: 'cli', name: 'CLI startup', run: (ctx) => benchCliStartup(ctx, { n: settings.cliN, warmup: 2 }) },
];

async function main(): Promise<number> {
  const children = new ChildSet();
  // Whatever ends the bench, no server, role or command it started survives it.
  process.on('exit', () => children.killAllNow());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping every process it started\n`);
      void children.stopAll().finally(() => process.exit(130));
    });
  }

  // Data directories of an earlier run that was interrupted before it could remove them.
  for (const name of existsSync('tmp/bench') ? readdirSync('tmp/bench') : []) {
    if (name.startsWith('data-')) rmSync(`tmp/bench/${name}`, { recursive: true, force: true });
  }

  const started = performance.now();
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const errors: Array<{ bench: string; error: string }> = [];
  const ctx: BenchContext = {
    children,
    details,
    progress: (m) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${m}\n`),
  };

  try {
    for (const bench of benches.filter((b) => settings.only.includes(b.key))) {
      ctx.progress(`${bench.name}...`);
      try {
        rows.push(...(await bench.run(ctx)));
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        errors.push({ bench: bench.key, error: message });
        ctx.progress(`${bench.name} FAILED: ${message}`);
        rows.push({
          id: bench.key,
          figure: bench.name,
          unit: '',
          ours: null,
          baseline: null,
          ratio: null,
          target: '-',
          pass: false,
          note: `error: ${message.split('\n').filter(Boolean).slice(0, 3).join(' | ')}`,
        });
      }
    }
  } finally {
    await children.stopAll();
  }

  const seconds = (performance.now() - started) / 1000;
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
  process.stdout.write(`\ncc-executor ${VERSION} bench, Node ${process.version}, ${machine}, ${seconds.toFixed(0)} s\n\n`);
  process.stdout.write(`${renderTable(rows)}\n`);
  writeJson(OUTPUT_PATH, {
    version: VERSION,
    node: process.version,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? null, loadavg: loadavg(), totalMem: totalmem() },
    durationS: Math.round(seconds),
    settings,
    rows,
    details,
    errors,
  });
  process.stdout.write(`\nwritten to ${OUTPUT_PATH}\n`);
  return errors.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
