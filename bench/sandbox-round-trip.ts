// Figure: a sandboxed `execute true` round trip against an unsandboxed one on the same server, in the same run.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { performance } from 'node:perf_hooks';
import { probeBubblewrap } from '../src/backends/local/bubblewrap-probe.js';
import { installGlobalWebSocket } from './lib/global-websocket.js';
import type { BenchContext, Row } from './lib/report.js';
import { startServer } from './lib/server.js';
import { percentile, round } from './lib/stats.js';

export interface SandboxRoundTripOptions {
  n: number;
  warmup: number;
}

/** The bound: bubblewrap's own cost, tens of milliseconds, not seconds. */
const EXTRA_P50_TARGET_MS = 50;

export async function benchSandboxRoundTrip(ctx: BenchContext, opts: SandboxRoundTripOptions): Promise<Row[]> {
  const probe = probeBubblewrap();
  if (!probe.ok) throw new Error(`bwrap cannot run here: ${probe.reason}`);
  installGlobalWebSocket();
  const server = await startServer(ctx.children, ['--sandbox', 'available']);
  const client = new Client({ name: 'cc-executor-bench', version: '0.0.0' });
  try {
    await client.connect(new WebSocketClientTransport(new URL(server.url)));
    const execute = (args: Record<string, unknown>) => async () => {
      const result = await client.callTool({ name: 'execute', arguments: args }, undefined, { timeout: 30_000 });
      const s = result.structuredContent as { exitCode?: number; sandbox?: unknown } | undefined;
      if (result.isError || s?.exitCode !== 0) throw new Error(`execute ${JSON.stringify(args)} failed: ${JSON.stringify(result)}`);
      if ((args.sandbox === true) !== (s?.sandbox != null)) throw new Error(`execute ${JSON.stringify(args)}: sandbox is ${JSON.stringify(s?.sandbox)}`);
    };
    const ops: Record<string, () => Promise<void>> = {
      plain: execute({ argv: ['true'] }),
      sandboxed: execute({ argv: ['true'], sandbox: true }),
    };
    const names = Object.keys(ops);
    const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    ctx.progress(`sandbox round trip: ${opts.warmup} warm-up + ${opts.n} timed calls each, plain and sandboxed (${probe.tools.version})`);
    for (let i = 0; i < opts.warmup + opts.n; i++) {
      // Alternate which goes first, so neither always runs right after the other.
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j) % names.length]!;
        const t0 = performance.now();
        await ops[name]!();
        if (i >= opts.warmup) times[name]!.push(performance.now() - t0);
      }
    }
    const p = (name: string, q: number) => percentile(times[name]!, q);
    ctx.details.sandboxRoundTrip = {
      n: opts.n,
      warmup: opts.warmup,
      bwrap: probe.tools.version,
      percentilesMs: Object.fromEntries(names.map((k) => [k, { p50: round(p(k, 50), 3), p90: round(p(k, 90), 3), p99: round(p(k, 99), 3) }])),
    };
    const rows: Row[] = [];
    for (const q of [50, 99] as const) {
      const extra = p('sandboxed', q) - p('plain', q);
      rows.push({
        id: `sandbox-rt-p${q}`,
        figure: `execute argv ['true'] sandboxed vs not, p${q} (n=${opts.n})`,
        unit: 'ms',
        ours: round(p('sandboxed', q), 3),
        baseline: round(p('plain', q), 3),
        ratio: round(p('sandboxed', q) / p('plain', q), 3),
        target: q === 50 ? `+<= ${EXTRA_P50_TARGET_MS} ms` : '-',
        pass: q === 50 ? extra <= EXTRA_P50_TARGET_MS : null,
        note: `+${round(extra, 1)} ms`,
      });
    }
    return rows;
  } finally {
    await client.close().catch(() => undefined);
    await server.stop();
  }
}
