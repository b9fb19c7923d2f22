// Figure 7: CLI startup. `cc-executor --version` and `cc-executor run true` against `node -e 0`, run in the same rotation.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { BenchContext, Row } from './lib/report.js';
import { startServer } from './lib/server.js';
import { percentile, round } from './lib/stats.js';

export interface CliStartupOptions {
  n: number;
  warmup: number;
}

const TARGETS = { version: 1.5, run: 3 } as const;

function time(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`)),
    );
  });
}

export async function benchCliStartup(ctx: BenchContext, opts: CliStartupOptions): Promise<Row[]> {
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const server = await startServer(ctx.children);
  try {
    const env = { ...process.env, CC_EXECUTOR_URL: server.url };
    const ops: Record<string, string[]> = {
      baseline: ['-e', '0'],
      version: [main, '--version'],
      run: [main, 'run', 'true'],
    };
    const names = Object.keys(ops);
    const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    ctx.progress(`cli startup: ${opts.warmup} warm-up + ${opts.n} timed runs of each of ${names.join(', ')}`);
    for (let i = 0; i < opts.warmup + opts.n; i++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(i + j) % names.length]!;
        const ms = await time(ops[name]!, env);
        if (i >= opts.warmup) times[name]!.push(ms);
      }
    }
    const p50 = (name: string) => percentile(times[name]!, 50);
    ctx.details.cliStartup = {
      n: opts.n,
      percentilesMs: Object.fromEntries(names.map((k) => [k, { p50: round(p50(k), 1), p90: round(percentile(times[k]!, 90), 1) }])),
    };
    const row = (name: keyof typeof TARGETS, figure: string): Row => {
      const ratio = p50(name) / p50('baseline');
      return {
        id: `cli-${name}-p50`,
        figure: `${figure} p50 (n=${opts.n})`,
        unit: 'ms',
        ours: round(p50(name), 1),
        baseline: round(p50('baseline'), 1),
        ratio: round(ratio, 3),
        target: `<= ${TARGETS[name]}x node -e 0`,
        pass: ratio <= TARGETS[name],
      };
    };
    return [row('version', 'cc-executor --version'), row('run', 'cc-executor run true')];
  } finally {
    await server.stop();
  }
}
