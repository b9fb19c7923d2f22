// Figure 1: stdout streamed to the SDK Client as progress, against a bare ws relay, both across processes.
import { startHealthProbe } from './lib/health-probe.js';
import { readCpuMs } from './lib/proc-stats.js';
import { producerCommand } from './lib/producer.js';
import type { BenchContext, Row } from './lib/report.js';
import { runRole, startRole, type RoleMessage } from './lib/role.js';
import { startServer } from './lib/server.js';
import { MIB, median, percentile, round } from './lib/stats.js';

export interface StreamOptions {
  mib: number;
  runs: number;
}

interface StreamResult extends RoleMessage {
  bytes: number;
  notifications: number;
  ms: number;
  cpuMs: number;
  reportedBytes: number | null;
  exitCode: number | null;
}

interface Run {
  mibPerS: number;
  bytes: number;
  messages: number;
  clientCpuMs: number;
  serverCpuMs: number;
  ok: boolean;
}

const WARMUP_BYTES = 16 * MIB;
const THROUGHPUT_TARGET = 0.6;

export async function benchStreamThroughput(ctx: BenchContext, opts: StreamOptions): Promise<Row[]> {
  const bytes = Math.round(opts.mib * MIB);
  const command = producerCommand(bytes);
  const timeoutMs = 60_000 + bytes / 1_000; // 1 MB/s floor: a hang fails instead of stalling the bench
  const server = await startServer(ctx.children);
  const relay = startRole(ctx.children, 'relay-server', {});
  try {
    const ready = await relay.next<RoleMessage & { url: string; pid: number }>('ready', 15_000);

    const measure = async (which: 'ours' | 'baseline', cmd: string, expected: number): Promise<Run> => {
      const serverPid = which === 'ours' ? server.pid : ready.pid;
      const cpu0 = readCpuMs(serverPid);
      const r =
        which === 'ours'
          ? await runRole<StreamResult>(ctx.children, 'sdk-stream-client', { url: server.url, command: cmd }, timeoutMs)
          : await runRole<StreamResult>(ctx.children, 'relay-client', { url: ready.url, command: cmd }, timeoutMs);
      const ok = r.bytes === expected && r.exitCode === 0 && (r.reportedBytes === null || r.reportedBytes === expected);
      return {
        mibPerS: r.bytes / MIB / (r.ms / 1000),
        bytes: r.bytes,
        messages: r.notifications,
        clientCpuMs: r.cpuMs,
        serverCpuMs: readCpuMs(serverPid) - cpu0,
        ok,
      };
    };

    ctx.progress(`stream: warm-up (${WARMUP_BYTES / MIB} MiB each way)`);
    await measure('ours', producerCommand(WARMUP_BYTES), WARMUP_BYTES);
    await measure('baseline', producerCommand(WARMUP_BYTES), WARMUP_BYTES);

    const idleProbe = startHealthProbe(server.url);
    await new Promise((r) => setTimeout(r, 1_000));
    const idleLatencies = await idleProbe.stop();

    const ours: Run[] = [];
    const base: Run[] = [];
    const busyLatencies: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      // Alternate the order so drift in machine load hits both sides alike.
      for (const which of i % 2 === 0 ? (['ours', 'baseline'] as const) : (['baseline', 'ours'] as const)) {
        if (which === 'ours') {
          const probe = startHealthProbe(server.url);
          const run = await measure('ours', command, bytes);
          busyLatencies.push(...(await probe.stop()));
          ours.push(run);
        } else {
          base.push(await measure('baseline', command, bytes));
        }
        const last = (which === 'ours' ? ours : base).at(-1)!;
        ctx.progress(
          `stream: run ${i + 1}/${opts.runs} ${which.padEnd(8)} ${last.mibPerS.toFixed(1)} MiB/s${last.ok ? '' : ' (BYTE COUNT MISMATCH)'}`,
        );
      }
    }

    const allOk = [...ours, ...base].every((r) => r.ok);
    const oursRate = median(ours.map((r) => r.mibPerS));
    const baseRate = median(base.map((r) => r.mibPerS));
    const perGiB = (runs: Run[], key: 'clientCpuMs' | 'serverCpuMs') => median(runs.map((r) => r[key] / 1000 / (r.bytes / 1024 / MIB)));
    const ratio = oursRate / baseRate;
    ctx.details.stream = {
      bytes,
      runs: opts.runs,
      server: 'cc-executor as a separate process (node dist/src/main.js); SDK client in a third process',
      ours,
      baseline: base,
      healthzIdleMs: idleLatencies.map((v) => round(v, 3)),
      healthzBusyP50Ms: round(percentile(busyLatencies, 50), 3),
      healthzBusyP99Ms: round(percentile(busyLatencies, 99), 3),
      healthzBusyMaxMs: round(Math.max(...busyLatencies), 3),
    };
    const label = `${opts.mib} MiB`;
    return [
      {
        id: 'stream-throughput',
        figure: `stdout stream ${label} to SDK client (median of ${opts.runs})`,
        unit: 'MiB/s',
        ours: round(oursRate),
        baseline: round(baseRate),
        ratio: round(ratio, 3),
        target: `>= ${THROUGHPUT_TARGET}x`,
        pass: allOk && ratio >= THROUGHPUT_TARGET,
        note: allOk
          ? `every run delivered exactly ${bytes} bytes; baseline: bare ws relay of JSON text frames`
          : 'BYTE COUNT MISMATCH in some run (see details in latest.json)',
      },
      {
        id: 'stream-server-cpu',
        figure: 'server CPU per GiB streamed',
        unit: 's',
        ours: round(perGiB(ours, 'serverCpuMs')),
        baseline: round(perGiB(base, 'serverCpuMs')),
        ratio: round(perGiB(ours, 'serverCpuMs') / perGiB(base, 'serverCpuMs'), 3),
        target: '-',
        pass: null,
      },
      {
        id: 'stream-client-cpu',
        figure: 'client CPU per GiB streamed',
        unit: 's',
        ours: round(perGiB(ours, 'clientCpuMs')),
        baseline: round(perGiB(base, 'clientCpuMs')),
        ratio: round(perGiB(ours, 'clientCpuMs') / perGiB(base, 'clientCpuMs'), 3),
        target: '-',
        pass: null,
      },
      {
        id: 'stream-healthz-p99',
        figure: 'GET /healthz p99 while streaming (vs idle)',
        unit: 'ms',
        ours: round(percentile(busyLatencies, 99), 3),
        baseline: round(percentile(idleLatencies, 99), 3),
        ratio: round(percentile(busyLatencies, 99) / percentile(idleLatencies, 99), 3),
        target: '-',
        pass: null,
      },
    ];
  } finally {
    await Promise.all([server.stop(), ctx.children.stop(relay.child)]);
  }
}
