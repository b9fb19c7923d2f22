// Shutdown with many running executions: SIGTERM to exit, exit code, and records left 'running', against an idle server.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RawClient } from './lib/raw-client.js';
import type { BenchContext, Row } from './lib/report.js';
import { startServer, type ServerProcess } from './lib/server.js';
import { round } from './lib/stats.js';

export interface ShutdownOptions {
  executions: number;
}

const TARGET_MS = 2_000;
/** Concurrent execute calls while filling the server. */
const START_BATCH = 50;

interface Outcome {
  ms: number;
  code: number | null;
  signal: string | null;
  /** The server's own figures from its "stopped" line: wall time and CPU time (user + system) of the shutdown. */
  serverMs: number | null;
  cpuMs: number | null;
  records: number;
  running: number;
}

/** Every record file under the data dir (any layout): JSON objects with an id and a state. */
function countRecords(dir: string): { records: number; running: number } {
  let records = 0;
  let running = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) {
        try {
          const r = JSON.parse(readFileSync(p, 'utf8')) as { id?: unknown; state?: unknown };
          if (typeof r.id !== 'string' || typeof r.state !== 'string') continue;
          records++;
          if (r.state === 'running' || r.state === 'paused') running++;
        } catch {
          // not a record
        }
      }
    }
  };
  walk(dir);
  return { records, running };
}

async function stopAndTime(server: ServerProcess): Promise<Omit<Outcome, 'records' | 'running'>> {
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    server.child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // 'close' comes after the last stderr line has been read.
  const closed = new Promise((resolve) => server.child.once('close', resolve));
  const t0 = performance.now();
  server.child.kill('SIGTERM');
  const { code, signal } = await exited;
  const ms = performance.now() - t0;
  await closed;
  const stopped = server
    .recentLog()
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; shutdownMs?: number; cpuMs?: number };
      } catch {
        return {};
      }
    })
    .find((l) => l.msg === 'stopped');
  return { ms, code, signal, serverMs: stopped?.shutdownMs ?? null, cpuMs: stopped?.cpuMs ?? null };
}

async function measure(ctx: BenchContext, executions: number): Promise<Outcome> {
  const limit = String(executions + 10);
  const server = await startServer(ctx.children, ['--max-executions', limit, '--max-executions-per-session', limit]);
  const dataDir = server.dataDir;
  try {
    if (executions > 0) {
      const client = await RawClient.connect(server.url);
      for (let i = 0; i < executions; i += START_BATCH) {
        const batch = Math.min(START_BATCH, executions - i);
        await Promise.all(Array.from({ length: batch }, () => client.tool('execute', { argv: ['sleep', '300'], background: true })));
      }
      // Detached from the session is not needed: closing would end them; keep the socket open through shutdown.
    }
    const t = await stopAndTime(server);
    return { ...t, ...countRecords(dataDir) };
  } finally {
    await server.stop();
  }
}

/**
 * The floor no server can beat on this machine: N `sleep 300` in their own process groups, spawned by this
 * process with pipes, then SIGTERM to each group and the time until every child has closed (what the kernel
 * and Node's own child handling cost, with no records, cgroups or protocol).
 */
async function bareKillFloor(ctx: BenchContext, executions: number): Promise<{ ms: number; cpuMs: number }> {
  const kids = Array.from({ length: executions }, () => ctx.children.spawn('sleep', ['300'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await Promise.all(kids.map((k) => new Promise((resolve) => k.once('spawn', resolve))));
  const closed = Promise.all(kids.map((k) => new Promise((resolve) => k.once('close', resolve))));
  const cpuAt = process.cpuUsage();
  const t0 = performance.now();
  for (const k of kids) process.kill(-k.pid!, 'SIGTERM');
  await closed;
  const cpu = process.cpuUsage(cpuAt);
  return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

export async function benchShutdownScale(ctx: BenchContext, opts: ShutdownOptions): Promise<Row[]> {
  ctx.progress('shutdown: idle server');
  const idle = await measure(ctx, 0);
  ctx.progress(`shutdown: ${opts.executions} running background executions`);
  const full = await measure(ctx, opts.executions);
  ctx.progress(`shutdown: the floor, ${opts.executions} bare process groups killed by a plain Node process`);
  const floor = await bareKillFloor(ctx, opts.executions);
  ctx.details.shutdown = { idle, full, floor };
  const ok = full.code === 0 && full.running === 0 && full.records >= opts.executions;
  return [
    {
      id: 'shutdown-scale',
      figure: `SIGTERM to exit, ${opts.executions} running executions (vs idle server)`,
      unit: 'ms',
      ours: round(full.ms),
      baseline: round(idle.ms),
      ratio: round(full.ms / idle.ms, 3),
      target: `< ${TARGET_MS} ms, exit 0, records final`,
      pass: ok && full.ms < TARGET_MS,
      note: `exit ${full.code ?? full.signal}; ${full.records} records, ${full.running} left running; server CPU ${full.cpuMs ?? '?'} ms (idle ${idle.cpuMs ?? '?'} ms)`,
    },
    {
      id: 'shutdown-scale-floor',
      figure: `that shutdown vs the floor: ${opts.executions} bare groups SIGTERMed by plain Node until all closed`,
      unit: 'ms',
      ours: round(full.ms),
      baseline: round(floor.ms),
      ratio: round(full.ms / floor.ms, 3),
      target: 'report (what the kernel and Node alone take on this machine now)',
      pass: null,
      note: `floor CPU ${round(floor.cpuMs)} ms`,
    },
    {
      id: 'shutdown-scale-cpu',
      figure: `server CPU time (user + system) of that shutdown, per execution`,
      unit: 'ms',
      ours: full.cpuMs === null ? null : round(full.cpuMs / opts.executions, 3),
      baseline: null,
      ratio: null,
      target: 'report (the wall time above depends on the machine load; this does less)',
      pass: null,
      note: `${full.cpuMs ?? '?'} ms CPU in ${full.serverMs ?? '?'} ms of the server's own shutdown`,
    },
  ];
}
