// `npm run bench`: runs every benchmark, prints each figure against a baseline measured in the same run, writes tmp/bench/latest.json.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { VERSION } from '../src/version.js';
import { ChildSet } from './lib/children.js';
import { renderTable, writeJson, type BenchContext, type Row } from './lib/report.js';
import { benchLoadMonitorLoop } from './load-monitor-loop.js';
import { benchRoundTrip } from './round-trip.js';
import { benchSandboxRoundTrip } from './sandbox-round-trip.js';
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

const settings = {
  streamMiB: envNumber('BENCH_STREAM_MIB', 256),
  streamRuns: Math.round(envNumber('BENCH_STREAM_RUNS', 3)),
  rtN: Math.round(envNumber('BENCH_RT_N', 200)),
  rtWarmup: Math.round(envNumber('BENCH_RT_WARMUP', 20)),
  sandboxN: Math.round(envNumber('BENCH_SANDBOX_N', 100)),
  slowMiB: envNumber('BENCH_SLOW_MIB', 1024),
  slowRateMiBps: envNumber('BENCH_SLOW_RATE_MIBPS', 64),
  only: (process.env.BENCH_ONLY ?? 'stream,rt,sandbox,rss,loop').split(',').map((s) => s.trim()),
};

const benches: Array<{ key: string; name: string; run: (ctx: BenchContext) => Promise<Row[]> }> = [
  {
    key: 'stream',
    name: 'streaming throughput',
    run: (ctx) => benchStreamThroughput(ctx, { mib: settings.streamMiB, runs: settings.streamRuns }),
  },
  { key: 'rt', name: 'execute round trip', run: (ctx) => benchRoundTrip(ctx, { n: settings.rtN, warmup: settings.rtWarmup }) },
  {
    key: 'sandbox',
    name: 'sandboxed execute round trip',
    run: (ctx) => benchSandboxRoundTrip(ctx, { n: settings.sandboxN, warmup: settings.rtWarmup }),
  },
  {
    key: 'rss',
    name: 'slow-reader memory',
    run: (ctx) => benchSlowReaderRss(ctx, { mib: settings.slowMiB, rateMiBps: settings.slowRateMiBps }),
  },
  { key: 'loop', name: 'load-monitor event loop', run: benchLoadMonitorLoop },
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
