// Figure 2: round trip of `execute` for `true` over WebSocket, against spawning `bash -c true` directly.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { spawn } from 'node:child_process';
import { withoutShellStartupFiles } from '../src/backends/local/shell-startup.js';
import { installGlobalWebSocket } from './lib/global-websocket.js';
import type { BenchContext, Row } from './lib/report.js';
import { startServer } from './lib/server.js';
import { timeRotated } from './lib/time-rotated.js';
import { findForkServer, readCpuAndFaults, readForkFootprint, readMemory } from './lib/proc-stats.js';
import { MIB, percentile, round } from './lib/stats.js';

export interface RoundTripOptions {
  n: number;
  warmup: number;
  /** Calls of each kind in the CPU phase (after the timed rounds): CPU time has a 10 ms tick, so many. */
  cpuN?: number;
}

// Issue 18.9: `execute true` at or under 1.5x a bare spawn, with records written.
const P50_TARGET = 1.5;

type Op = () => Promise<void>;

/**
 * CPU (ms) and minor faults per call of `op`, `n` calls in a row, read with `read` before and after: what the
 * wall time hides on a loaded machine (a process waiting for a core costs no CPU).
 */
async function perCall(
  op: Op,
  n: number,
  read: () => { cpuMs: number; minorFaults: number },
): Promise<{ cpuMs: number; minorFaults: number }> {
  const before = read();
  for (let i = 0; i < n; i++) await op();
  const after = read();
  return { cpuMs: (after.cpuMs - before.cpuMs) / n, minorFaults: (after.minorFaults - before.minorFaults) / n };
}

/** This (bench) process: all its threads. Minor faults from resourceUsage, like /proc's minflt. */
function selfCpuAndFaults(): { cpuMs: number; minorFaults: number } {
  const r = process.resourceUsage();
  return { cpuMs: (r.userCPUTime + r.systemCPUTime) / 1000, minorFaults: r.minorPageFault };
}

/**
 * Without startup files, as the server spawns every command: with SHLVL unset (a bench started by setsid,
 * nohup or cron) Debian's bash takes a socket on stdin for sshd and runs ~/.bashrc, which made this baseline
 * 0.6-1.1 s instead of 13 ms in detached runs (the server's own children get SHLVL=1 the same way).
 */
const BARE_ENV = withoutShellStartupFiles({ ...process.env } as Record<string, string>);

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', ['-c', 'true'], { env: BARE_ENV });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bash -c true exited ${code}`))));
  });
}

function forkServerFootprint(serverPid: number): { rssAnonKiB: number; pageTablesKiB: number } | null {
  const pid = findForkServer(serverPid);
  return pid === undefined ? null : (readForkFootprint(pid) ?? null);
}

export async function benchRoundTrip(ctx: BenchContext, opts: RoundTripOptions): Promise<Row[]> {
  installGlobalWebSocket();
  const server = await startServer(ctx.children);
  const client = new Client({ name: 'cc-executor-bench', version: '0.0.0' });
  try {
    await client.connect(new WebSocketClientTransport(new URL(server.url)));
    const execute =
      (args: Record<string, unknown>, withProgress: boolean): Op =>
      async () => {
        const result = await client.callTool({ name: 'execute', arguments: args }, undefined, {
          timeout: 30_000,
          ...(withProgress ? { onprogress: () => undefined } : {}),
        });
        const s = result.structuredContent as { exitCode?: number } | undefined;
        if (result.isError || s?.exitCode !== 0) throw new Error(`execute ${JSON.stringify(args)} failed: ${JSON.stringify(result)}`);
      };
    const ops: Record<string, Op> = {
      baseline: spawnTrue,
      argv: execute({ argv: ['true'] }, false),
      command: execute({ command: 'true' }, false),
      argvProgress: execute({ argv: ['true'] }, true),
    };
    const names = Object.keys(ops);
    ctx.progress(`round trip: ${opts.warmup} warm-up + ${opts.n} timed calls of each of ${names.join(', ')}`);
    // Rotate the order so each kind runs in every position as often as the others.
    const times = await timeRotated(ops, opts);
    // Where the server's time goes, beside the wall times: its CPU per `execute` (fork of a ~100 MiB process
    // included) against the bench process's own CPU per bare spawn, and the page faults of each.
    const cpuN = opts.cpuN ?? 100;
    ctx.progress(`round trip: CPU per call, ${cpuN} of argv then ${cpuN} bare spawns`);
    const serverCpu = await perCall(ops.argv!, cpuN, () => readCpuAndFaults(server.pid));
    const benchCpu = await perCall(ops.baseline!, cpuN, selfCpuAndFaults);

    const p = (name: string, q: number) => percentile(times[name]!, q);
    ctx.details.roundTrip = {
      n: opts.n,
      warmup: opts.warmup,
      // fork() copies page tables: a spawn costs more in a process with a larger RSS.
      serverRssMiB: round((readMemory(server.pid)?.rss ?? NaN) / MIB),
      benchRssMiB: round(process.memoryUsage().rss / MIB),
      serverForkFootprint: readForkFootprint(server.pid) ?? null,
      // What forks the commands when the server has a fork server (config forkServer, the default).
      forkServerFootprint: forkServerFootprint(server.pid),
      benchForkFootprint: readForkFootprint(process.pid) ?? null,
      cpuPerCall: {
        n: cpuN,
        serverPerExecuteMs: round(serverCpu.cpuMs, 3),
        serverMinorFaultsPerExecute: round(serverCpu.minorFaults, 1),
        benchPerBareSpawnMs: round(benchCpu.cpuMs, 3),
        benchMinorFaultsPerBareSpawn: round(benchCpu.minorFaults, 1),
      },
      percentilesMs: Object.fromEntries(
        names.map((k) => [k, { p50: round(p(k, 50), 3), p90: round(p(k, 90), 3), p99: round(p(k, 99), 3), max: round(p(k, 100), 3) }]),
      ),
    };
    const row = (name: string, q: 50 | 99, figure: string, targeted: boolean): Row => {
      const ratio = p(name, q) / p('baseline', q);
      return {
        id: `rt-${name}-p${q}`,
        figure: `${figure} p${q} (n=${opts.n})`,
        unit: 'ms',
        ours: round(p(name, q), 3),
        baseline: round(p('baseline', q), 3),
        ratio: round(ratio, 3),
        target: targeted ? `<= ${P50_TARGET}x` : '-',
        pass: targeted ? ratio <= P50_TARGET : null,
      };
    };
    return [
      row('argv', 50, "execute argv ['true']", true),
      row('argv', 99, "execute argv ['true']", false),
      row('command', 50, "execute command 'true'", true),
      row('command', 99, "execute command 'true'", false),
      row('argvProgress', 50, "execute argv ['true'] + onprogress", false),
      {
        id: 'rt-server-cpu',
        figure: `server CPU per execute argv ['true'] (vs the bench's CPU per bare spawn; n=${cpuN})`,
        unit: 'ms',
        ours: round(serverCpu.cpuMs, 3),
        baseline: round(benchCpu.cpuMs, 3),
        ratio: round(serverCpu.cpuMs / benchCpu.cpuMs, 3),
        target: '-',
        pass: null,
      },
    ];
  } finally {
    await client.close().catch(() => undefined);
    await server.stop();
  }
}
