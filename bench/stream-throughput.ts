// Figure 1: stdout streamed to the SDK Client as progress, against a bare ws relay, both across processes.
import type { ChildSet } from './lib/children.js';
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
  /** How the call ended, from the tool result (MCP roles only). */
  outcome?: unknown;
}

interface Run {
  mibPerS: number;
  bytes: number;
  messages: number;
  clientCpuMs: number;
  serverCpuMs: number;
  ok: boolean;
  /** Only when the run failed its byte check: what the client was told. */
  failure?: unknown;
}

/**
 * ours: cc-executor -> the SDK's Client (the figure with a target).
 * raw: cc-executor -> a raw ws client that only JSON.parses (what the server alone costs).
 * baseline: a bare ws relay -> a bare ws client.
 */
type Variant = 'ours' | 'raw' | 'baseline';
const VARIANTS: readonly Variant[] = ['ours', 'raw', 'baseline'];

const WARMUP_BYTES = 16 * MIB;
/** Long enough for ~150 idle probes, so the idle p99 is not just the slowest one. */
const IDLE_PROBE_MS = 3_000;
const THROUGHPUT_TARGET = 0.6;

/** The raw MCP client role answers 'ready' after its handshake and a warm-up call, then streams on 'go'. */
async function runRawClient(children: ChildSet, url: string, command: string, timeoutMs: number): Promise<StreamResult> {
  const role = startRole(children, 'raw-mcp-client', { url, command, bytesPerSecond: 0 });
  try {
    await role.next('ready', 20_000);
    role.send({ type: 'go' });
    return await role.next<StreamResult>('result', timeoutMs);
  } finally {
    await children.stop(role.child, 1_000);
  }
}

export async function benchStreamThroughput(ctx: BenchContext, opts: StreamOptions): Promise<Row[]> {
  const bytes = Math.round(opts.mib * MIB);
  const command = producerCommand(bytes);
  const timeoutMs = 60_000 + bytes / 1_000; // 1 MB/s floor: a hang fails instead of stalling the bench
  const server = await startServer(ctx.children);
  const relay = startRole(ctx.children, 'relay-server', {});
  try {
    const ready = await relay.next<RoleMessage & { url: string; pid: number }>('ready', 15_000);

    const measure = async (which: Variant, cmd: string, expected: number): Promise<Run> => {
      const serverPid = which === 'baseline' ? ready.pid : server.pid;
      const cpu0 = readCpuMs(serverPid);
      const r =
        which === 'ours'
          ? await runRole<StreamResult>(ctx.children, 'sdk-stream-client', { url: server.url, command: cmd }, timeoutMs)
          : which === 'raw'
            ? await runRawClient(ctx.children, server.url, cmd, timeoutMs)
            : await runRole<StreamResult>(ctx.children, 'relay-client', { url: ready.url, command: cmd }, timeoutMs);
      const ok = r.bytes === expected && r.exitCode === 0 && (r.reportedBytes === null || r.reportedBytes === expected);
      return {
        mibPerS: r.bytes / MIB / (r.ms / 1000),
        bytes: r.bytes,
        messages: r.notifications,
        clientCpuMs: r.cpuMs,
        serverCpuMs: readCpuMs(serverPid) - cpu0,
        ok,
        ...(ok ? {} : { failure: { reportedBytes: r.reportedBytes, exitCode: r.exitCode, outcome: r.outcome ?? null } }),
      };
    };

    ctx.progress(`stream: warm-up (${WARMUP_BYTES / MIB} MiB each way)`);
    for (const which of VARIANTS) await measure(which, producerCommand(WARMUP_BYTES), WARMUP_BYTES);

    const idleProbe = startHealthProbe(server.url);
    await new Promise((r) => setTimeout(r, IDLE_PROBE_MS));
    const idleLatencies = await idleProbe.stop();

    const runs: Record<Variant, Run[]> = { ours: [], raw: [], baseline: [] };
    const busyLatencies: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      // Rotate the order so drift in machine load hits every variant alike.
      for (let j = 0; j < VARIANTS.length; j++) {
        const which = VARIANTS[(i + j) % VARIANTS.length]!;
        const probe = which === 'ours' ? startHealthProbe(server.url) : undefined;
        const run = await measure(which, command, bytes);
        if (probe) busyLatencies.push(...(await probe.stop()));
        runs[which].push(run);
        ctx.progress(
          `stream: run ${i + 1}/${opts.runs} ${which.padEnd(8)} ${run.mibPerS.toFixed(1)} MiB/s${run.ok ? '' : ' (BYTE COUNT MISMATCH)'}`,
        );
      }
    }

    const allOk = VARIANTS.every((v) => runs[v].every((r) => r.ok));
    const rate = (v: Variant) => median(runs[v].map((r) => r.mibPerS));
    const perGiB = (v: Variant, key: 'clientCpuMs' | 'serverCpuMs') => median(runs[v].map((r) => r[key] / 1000 / (r.bytes / 1024 / MIB)));
    const ratio = rate('ours') / rate('baseline');
    ctx.details.stream = {
      bytes,
      runs: opts.runs,
      server: 'cc-executor as a separate process (node dist/src/main.js); each client in a process of its own',
      ...runs,
      healthzIdleMs: idleLatencies.map((v) => round(v, 3)),
      healthzBusyP50Ms: round(percentile(busyLatencies, 50), 3),
      healthzBusyP99Ms: round(percentile(busyLatencies, 99), 3),
      healthzBusyMaxMs: round(Math.max(...busyLatencies), 3),
    };
    const label = `${opts.mib} MiB`;
    const info = (id: string, figure: string, unit: string, ours: number, baseline: number): Row => ({
      id,
      figure,
      unit,
      ours: round(ours, 3),
      baseline: round(baseline, 3),
      ratio: round(ours / baseline, 3),
      target: '-',
      pass: null,
    });
    return [
      {
        id: 'stream-throughput',
        figure: `stdout stream ${label} to SDK client (median of ${opts.runs})`,
        unit: 'MiB/s',
        ours: round(rate('ours')),
        baseline: round(rate('baseline')),
        ratio: round(ratio, 3),
        target: `>= ${THROUGHPUT_TARGET}x`,
        pass: allOk && ratio >= THROUGHPUT_TARGET,
        note: allOk
          ? `every run delivered exactly ${bytes} bytes; baseline: bare ws relay of JSON text frames to a bare ws client`
          : 'BYTE COUNT MISMATCH in some run (see details in latest.json)',
      },
      info('stream-throughput-raw', `stdout stream ${label} to a raw ws client (JSON.parse only)`, 'MiB/s', rate('raw'), rate('baseline')),
      info('stream-server-cpu', 'server CPU per GiB streamed', 's', perGiB('ours', 'serverCpuMs'), perGiB('baseline', 'serverCpuMs')),
      info(
        'stream-client-cpu',
        'SDK client CPU per GiB (vs bare ws client)',
        's',
        perGiB('ours', 'clientCpuMs'),
        perGiB('baseline', 'clientCpuMs'),
      ),
      info(
        'stream-healthz-p99',
        'GET /healthz p99 while streaming (vs idle)',
        'ms',
        percentile(busyLatencies, 99),
        percentile(idleLatencies, 99),
      ),
    ];
  } finally {
    await Promise.all([server.stop(), ctx.children.stop(relay.child)]);
  }
}
