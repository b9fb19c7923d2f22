// Costs that must not grow with history: startup, `execute true` and `status` history with N past records vs none.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { performance } from 'node:perf_hooks';
import { installGlobalWebSocket } from './lib/global-websocket.js';
import { ensureHistoryFixture, resetHistoryFixture } from './lib/history-fixture.js';
import type { BenchContext, Row } from './lib/report.js';
import { startServer, type ServerProcess } from './lib/server.js';
import { median, percentile, round } from './lib/stats.js';

export interface HistoryScaleOptions {
  records: number;
  /** Timed calls of each kind per server. */
  calls: number;
  /** Server starts per side (the startup figure is their median). */
  starts: number;
}

const STARTUP_TARGET = 1.25;
const EXECUTE_TARGET = 1.2;
const HISTORY_P50_TARGET_MS = 10;

interface Side {
  startMs: number[];
  /** ms from "listening" to the log line that says past records are loaded and reconciled (in the background). */
  loadedMs: number[];
  executeMs: number[];
  historyMs: number[];
  historyCount: number;
  /** `status` history filtered by a state no record is in, and by a query no command contains (both match nothing). */
  stateFilterMs: number[];
  queryFilterMs: number[];
}

/** How long the background load may take before the bench gives up (an older server loads before listening). */
const LOAD_TIMEOUT_MS = 120_000;

async function timeCalls(server: ServerProcess, calls: number): Promise<Omit<Side, 'startMs' | 'loadedMs'>> {
  installGlobalWebSocket();
  const client = new Client({ name: 'cc-executor-bench-history', version: '0.0.0' });
  await client.connect(new WebSocketClientTransport(new URL(server.url)));
  try {
    const executeMs: number[] = [];
    const historyMs: number[] = [];
    const stateFilterMs: number[] = [];
    const queryFilterMs: number[] = [];
    let historyCount = 0;
    // Filters that match nothing: the worst case for a filter that walks the history.
    const filtered = async (args: Record<string, unknown>, into: number[], timed: boolean) => {
      const t = performance.now();
      const f = await client.callTool({ name: 'status', arguments: { scope: 'history', ...args } });
      if (f.isError) throw new Error(`status history ${JSON.stringify(args)} failed: ${JSON.stringify(f).slice(0, 300)}`);
      if (timed) into.push(performance.now() - t);
      const found = ((f.structuredContent as { executions?: unknown[] } | undefined)?.executions ?? []).length;
      if (found !== 0) throw new Error(`status history ${JSON.stringify(args)} matched ${found} records, expected none`);
    };
    for (let i = 0; i < calls + 3; i++) {
      let t0 = performance.now();
      const r = await client.callTool({ name: 'execute', arguments: { argv: ['true'] } });
      if (r.isError) throw new Error(`execute true failed: ${JSON.stringify(r).slice(0, 300)}`);
      if (i >= 3) executeMs.push(performance.now() - t0);
      t0 = performance.now();
      const h = await client.callTool({ name: 'status', arguments: { scope: 'history' } });
      if (h.isError) throw new Error(`status history failed: ${JSON.stringify(h).slice(0, 300)}`);
      if (i >= 3) historyMs.push(performance.now() - t0);
      const s = h.structuredContent as { history?: unknown[]; executions?: unknown[] } | undefined;
      historyCount = (s?.history ?? s?.executions ?? []).length;
      await filtered({ state: 'lost' }, stateFilterMs, i >= 3);
      await filtered({ query: 'no command has this text' }, queryFilterMs, i >= 3);
    }
    return { executeMs, historyMs, historyCount, stateFilterMs, queryFilterMs };
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function benchHistoryScale(ctx: BenchContext, opts: HistoryScaleOptions): Promise<Row[]> {
  const dir = await ensureHistoryFixture(ctx.children, opts.records, (m) => ctx.progress(m));
  // Keep every record: the figure is what a large history costs, not what pruning it down costs.
  const args = ['--max-records', String(opts.records * 2)];
  const measure = async (dataDir: string | undefined): Promise<Side> => {
    const startMs: number[] = [];
    const loadedMs: number[] = [];
    let calls: Omit<Side, 'startMs' | 'loadedMs'> | undefined;
    for (let i = 0; i < opts.starts; i++) {
      if (dataDir) resetHistoryFixture(dataDir, opts.records);
      const server = await startServer(ctx.children, args, dataDir ? { dataDir } : {});
      try {
        startMs.push(server.startMs);
        // Past records load after listening: the calls are timed once that is over (the steady state), and
        // how long it took is a figure of its own.
        loadedMs.push((await server.waitForLog(/records: found \d+/, LOAD_TIMEOUT_MS)) - server.startMs);
        if (i === opts.starts - 1) calls = await timeCalls(server, opts.calls);
      } finally {
        await server.stop();
      }
    }
    if (dataDir) resetHistoryFixture(dataDir, opts.records);
    return { startMs, loadedMs, ...calls! };
  };
  ctx.progress(`history: ${opts.starts} starts and ${opts.calls} calls each, empty data dir`);
  const empty = await measure(undefined);
  ctx.progress(`history: same with ${opts.records} records`);
  const full = await measure(dir);

  ctx.details.historyScale = {
    records: opts.records,
    empty: { startMs: empty.startMs.map((v) => round(v)), loadedMs: empty.loadedMs.map((v) => round(v)), historyCount: empty.historyCount },
    full: { startMs: full.startMs.map((v) => round(v)), loadedMs: full.loadedMs.map((v) => round(v)), historyCount: full.historyCount },
  };
  const ratioRow = (id: string, figure: string, ours: number, base: number, target: number): Row => ({
    id,
    figure,
    unit: 'ms',
    ours: round(ours),
    baseline: round(base),
    ratio: round(ours / base, 3),
    target: `<= ${target}x`,
    pass: ours / base <= target,
  });
  const n = opts.records.toLocaleString('en');
  return [
    ratioRow(
      'history-startup',
      `start listening, ${n} records (vs empty; median of ${opts.starts})`,
      median(full.startMs),
      median(empty.startMs),
      STARTUP_TARGET,
    ),
    {
      id: 'history-loaded',
      figure: `history loaded in the background after listening, ${n} records (median of ${opts.starts})`,
      unit: 'ms',
      ours: round(median(full.loadedMs)),
      // An empty data dir is loaded before the listening line is even written: nothing to compare with.
      baseline: round(Math.max(0, median(empty.loadedMs))),
      ratio: null,
      target: 'report',
      pass: null,
    },
    ratioRow(
      'history-execute-p50',
      `execute true p50, ${n} records (vs empty)`,
      percentile(full.executeMs, 50),
      percentile(empty.executeMs, 50),
      EXECUTE_TARGET,
    ),
    {
      id: 'history-status-p50',
      figure: `status history p50, ${n} records (vs empty)`,
      unit: 'ms',
      ours: round(percentile(full.historyMs, 50)),
      baseline: round(percentile(empty.historyMs, 50)),
      ratio: round(percentile(full.historyMs, 50) / percentile(empty.historyMs, 50), 3),
      target: `<= ${HISTORY_P50_TARGET_MS} ms`,
      pass: percentile(full.historyMs, 50) <= HISTORY_P50_TARGET_MS && full.historyCount > 0,
    },
    ...(
      [
        [
          'history-state-filter-p50',
          `status history, state filter matching none, p50, ${n} records (vs empty)`,
          full.stateFilterMs,
          empty.stateFilterMs,
        ],
        [
          'history-query-filter-p50',
          `status history, query matching none, p50, ${n} records (vs empty)`,
          full.queryFilterMs,
          empty.queryFilterMs,
        ],
      ] as const
    ).map(([id, figure, ours, base]): Row => ({
      id,
      figure,
      unit: 'ms',
      ours: round(percentile([...ours], 50)),
      baseline: round(percentile([...base], 50)),
      ratio: round(percentile([...ours], 50) / percentile([...base], 50), 3),
      // The history target, for the filters too: a filter must not walk the whole history.
      target: `<= ${HISTORY_P50_TARGET_MS} ms`,
      pass: percentile([...ours], 50) <= HISTORY_P50_TARGET_MS,
    })),
  ];
}
