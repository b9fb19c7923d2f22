// Line latency: a line printed by a child reaches an SDK client's onprogress, against the child's own pipe read directly.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { installGlobalWebSocket } from './lib/global-websocket.js';
import { producerCommand } from './lib/producer.js';
import type { BenchContext, Row } from './lib/report.js';
import { startRole } from './lib/role.js';
import { startServer } from './lib/server.js';
import { percentile, round } from './lib/stats.js';

export interface LineLatencyOptions {
  /** Lines per measurement. */
  lines: number;
  /** Pause between lines, ms (longer than the coalescing delay: each line follows a quiet spell). */
  intervalMs: number;
  /** Parallel floods for the loaded measurement. */
  floods: number;
}

const P50_TARGET_MS = 3;
const P99_TARGET_MS = 10;

/**
 * CLOCK_MONOTONIC in ms, with sub-ms precision: one clock for every process on the machine. (timeOrigin + now()
 * is not: each process fixes its own time origin, and the two differed by enough to give the pipe baseline a
 * negative p50 once.)
 */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A Node child that prints its own send time, one line every `intervalMs`. */
function tickerArgv(lines: number, intervalMs: number): string[] {
  const script =
    `let n=0;const t=setInterval(()=>{process.stdout.write((Number(process.hrtime.bigint())/1e6).toFixed(3)+'\\n');` +
    `if(++n>=${lines})clearInterval(t)},${intervalMs})`;
  return [process.execPath, '-e', script];
}

function latenciesOf(text: string, receivedAt: number, into: number[]): void {
  for (const line of text.split('\n')) if (line !== '') into.push(receivedAt - Number(line));
}

/** Baseline: the same ticker spawned by this process, its pipe read directly. */
async function measurePipe(lines: number, intervalMs: number): Promise<number[]> {
  const [file, ...args] = tickerArgv(lines, intervalMs);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const out: number[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => out.push(nowMs() - Number(line)));
  await new Promise((resolve) => child.once('close', resolve));
  return out;
}

async function measureServer(client: Client, lines: number, intervalMs: number): Promise<number[]> {
  const out: number[] = [];
  const result = await client.callTool({ name: 'execute', arguments: { argv: tickerArgv(lines, intervalMs) } }, undefined, {
    timeout: 120_000,
    onprogress: (p) => {
      const at = nowMs();
      const meta = (p as { _meta?: Record<string, unknown> })._meta;
      if (meta?.['cc-executor/stream'] === 'stdout') latenciesOf(p.message ?? '', at, out);
    },
  });
  if (result.isError) throw new Error(`ticker failed: ${JSON.stringify(result).slice(0, 300)}`);
  return out;
}

export async function benchLineLatency(ctx: BenchContext, opts: LineLatencyOptions): Promise<Row[]> {
  installGlobalWebSocket();
  const server = await startServer(ctx.children);
  const client = new Client({ name: 'cc-executor-bench-latency', version: '0.0.0' });
  try {
    await client.connect(new WebSocketClientTransport(new URL(server.url)));
    await measureServer(client, 5, opts.intervalMs); // warm-up: first execute loads the tool code paths
    ctx.progress(`line latency: ${opts.lines} lines every ${opts.intervalMs} ms, idle`);
    const [idlePipe, idleOurs] = await Promise.all([
      measurePipe(opts.lines, opts.intervalMs),
      measureServer(client, opts.lines, opts.intervalMs),
    ]);

    ctx.progress(`line latency: same, under ${opts.floods} parallel floods`);
    const flood = startRole(ctx.children, 'flood-client', {
      url: server.url,
      floods: opts.floods,
      command: producerCommand(64 * 1024 ** 3),
    });
    let floodPipe: number[];
    let floodOurs: number[];
    try {
      await flood.next('ready', 30_000);
      [floodPipe, floodOurs] = await Promise.all([
        measurePipe(opts.lines, opts.intervalMs),
        measureServer(client, opts.lines, opts.intervalMs),
      ]);
      flood.send({ type: 'stop' });
      await flood.next('result', 10_000);
    } finally {
      await ctx.children.stop(flood.child, 1_000);
    }

    const stat = (v: number[]) => ({ p50: round(percentile(v, 50), 3), p99: round(percentile(v, 99), 3), n: v.length });
    ctx.details.lineLatency = {
      lines: opts.lines,
      intervalMs: opts.intervalMs,
      floods: opts.floods,
      idle: { ours: stat(idleOurs), pipe: stat(idlePipe) },
      flooded: { ours: stat(floodOurs), pipe: stat(floodPipe) },
    };
    const row = (id: string, figure: string, ours: number[], base: number[], q: 50 | 99, targetMs: number | null): Row => {
      const o = percentile(ours, q);
      const b = percentile(base, q);
      const complete = ours.length === opts.lines;
      return {
        id,
        figure: `${figure} p${q} (n=${opts.lines})`,
        unit: 'ms',
        ours: round(o, 3),
        baseline: round(b, 3),
        ratio: round(o / b, 3),
        target: targetMs === null ? '-' : `<= ${targetMs} ms`,
        pass: targetMs === null ? null : complete && o <= targetMs,
        ...(complete ? {} : { note: `only ${ours.length} of ${opts.lines} lines arrived as progress` }),
      };
    };
    return [
      row('latency-idle-p50', 'line latency to onprogress, idle (vs pipe)', idleOurs, idlePipe, 50, P50_TARGET_MS),
      row('latency-idle-p99', 'line latency to onprogress, idle (vs pipe)', idleOurs, idlePipe, 99, P99_TARGET_MS),
      row('latency-flood-p50', `line latency, ${opts.floods} parallel floods (vs pipe)`, floodOurs, floodPipe, 50, null),
      row('latency-flood-p99', `line latency, ${opts.floods} parallel floods (vs pipe)`, floodOurs, floodPipe, 99, null),
    ];
  } finally {
    await client.close().catch(() => undefined);
    await server.stop();
  }
}
