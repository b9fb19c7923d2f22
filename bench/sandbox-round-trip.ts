// Figure: a sandboxed `execute true` round trip against an unsandboxed one on the same server, and the sandbox's
// extra cost against bubblewrap's own (spawning the same bwrap launch directly), all in the same run.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeBubblewrap } from '../src/backends/local/bubblewrap-probe.js';
import { sandboxLaunch } from '../src/backends/local/sandbox-launch.js';
import { installGlobalWebSocket } from './lib/global-websocket.js';
import type { BenchContext, Row } from './lib/report.js';
import { startServer } from './lib/server.js';
import { timeRotated } from './lib/time-rotated.js';
import { percentile, round } from './lib/stats.js';

export interface SandboxRoundTripOptions {
  n: number;
  warmup: number;
}

/** The bound: the server's sandbox costs about what bubblewrap itself costs, no more than this times it. */
const OVERHEAD_RATIO_TARGET = 1.5;

function spawnAndWait(file: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, stdio: 'ignore', detached: true });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`))));
  });
}

export async function benchSandboxRoundTrip(ctx: BenchContext, opts: SandboxRoundTripOptions): Promise<Row[]> {
  const probe = probeBubblewrap();
  if (!probe.ok) throw new Error(`bwrap cannot run here: ${probe.reason}`);
  installGlobalWebSocket();
  const server = await startServer(ctx.children, ['--sandbox', 'available']);
  const client = new Client({ name: 'cc-executor-bench', version: '0.0.0' });
  const cwd = mkdtempSync(join(tmpdir(), 'ccx-bench-sandbox-'));
  try {
    await client.connect(new WebSocketClientTransport(new URL(server.url)));
    const execute = (args: Record<string, unknown>) => async () => {
      const result = await client.callTool({ name: 'execute', arguments: args }, undefined, { timeout: 30_000 });
      const s = result.structuredContent as { exitCode?: number; sandbox?: unknown } | undefined;
      if (result.isError || s?.exitCode !== 0) throw new Error(`execute ${JSON.stringify(args)} failed: ${JSON.stringify(result)}`);
      if ((args.sandbox === true) !== (s?.sandbox != null))
        throw new Error(`execute ${JSON.stringify(args)}: sandbox is ${JSON.stringify(s?.sandbox)}`);
    };
    // The same bwrap command line the server builds for `true` in this cwd, spawned without the server.
    const direct = sandboxLaunch(
      { plan: { id: 'bench', argv: ['/bin/true'], env: {} }, file: '/bin/true', args: [], cwd, env: { PATH: process.env.PATH ?? '' } },
      { network: 'none', writableRoots: [cwd], hide: [] },
      { tools: probe.tools, keepEnv: () => true },
    );
    const ops: Record<string, () => Promise<void>> = {
      spawnTrue: () => spawnAndWait('/bin/true', [], cwd),
      spawnBwrap: () => spawnAndWait(direct.file, direct.args, cwd),
      plain: execute({ argv: ['true'], cwd }),
      sandboxed: execute({ argv: ['true'], cwd, sandbox: true }),
    };
    const names = Object.keys(ops);
    ctx.progress(`sandbox round trip: ${opts.warmup} warm-up + ${opts.n} timed calls each, plain and sandboxed (${probe.tools.version})`);
    // Alternate which goes first, so neither always runs right after the other.
    const times = await timeRotated(ops, opts);
    const p = (name: string, q: number) => percentile(times[name]!, q);
    ctx.details.sandboxRoundTrip = {
      n: opts.n,
      warmup: opts.warmup,
      bwrap: probe.tools.version,
      percentilesMs: Object.fromEntries(
        names.map((k) => [k, { p50: round(p(k, 50), 3), p90: round(p(k, 90), 3), p99: round(p(k, 99), 3) }]),
      ),
    };
    const rows: Row[] = [];
    for (const q of [50, 99] as const) {
      rows.push({
        id: `sandbox-rt-p${q}`,
        figure: `execute argv ['true'] sandboxed vs not, p${q} (n=${opts.n})`,
        unit: 'ms',
        ours: round(p('sandboxed', q), 3),
        baseline: round(p('plain', q), 3),
        ratio: round(p('sandboxed', q) / p('plain', q), 3),
        target: '-',
        pass: null,
        note: `+${round(p('sandboxed', q) - p('plain', q), 1)} ms`,
      });
    }
    const serverExtra = p('sandboxed', 50) - p('plain', 50);
    const bwrapExtra = p('spawnBwrap', 50) - p('spawnTrue', 50);
    rows.push({
      id: 'sandbox-overhead-p50',
      figure: `sandbox's extra ms per execute vs bwrap's own (direct spawn of the same launch vs /bin/true), p50`,
      unit: 'ms',
      ours: round(serverExtra, 3),
      baseline: round(bwrapExtra, 3),
      ratio: round(serverExtra / bwrapExtra, 3),
      target: `<= ${OVERHEAD_RATIO_TARGET}x`,
      pass: serverExtra <= OVERHEAD_RATIO_TARGET * bwrapExtra,
    });
    return rows;
  } finally {
    await client.close().catch(() => undefined);
    await server.stop();
    rmSync(cwd, { recursive: true, force: true });
  }
}
