// Streaming throughput (18.8): to a raw MCP client against a relay writing a file (the server's share), and to the SDK Client.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startHealthProbe } from './lib/health-probe.js';
import { findForkServer, readChildrenCpuMs, readCpuMs } from './lib/proc-stats.js';
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
  maxOutputBytes?: number;
  maxFrameBytes?: number;
  /** Raw client only: the execution's last seq, i.e. how many reads of the child's output the server made. */
  lastSeq?: number | null;
}

interface Run {
  mibPerS: number;
  bytes: number;
  messages: number;
  clientCpuMs: number;
  serverCpuMs: number;
  /** CPU of the command (bash, yes, head), reaped by the server or relay during the run. */
  producerCpuMs: number;
  /** Reads of the command's output: the server's chunks (raw) or the relay's frames (one per read); null for sdk. */
  reads: number | null;
  ok: boolean;
  /** Raw client only: the most stdout one notification carried, and the largest progress frame. */
  maxOutputBytes?: number;
  maxFrameBytes?: number;
  /** Only when the run failed its byte check: what the client was told. */
  failure?: unknown;
}

/**
 * sdk: cc-executor -> the SDK's Client. raw: cc-executor -> a raw `ws` MCP client (JSON.parse only), so the
 * client costs what the relay's client costs and the figure is the server's own. relay: a bare ws relay ->
 * a bare ws client. relayFile: the same relay also writing every byte to a file, as cc-executor writes its logs.
 */
type Variant = 'sdk' | 'raw' | 'relay' | 'relayFile';
const VARIANTS: readonly Variant[] = ['raw', 'relayFile', 'sdk', 'relay'];

const WARMUP_BYTES = 16 * MIB;
/** Long enough for ~150 idle probes, so the idle p99 is not just the slowest one. */
const IDLE_PROBE_MS = 3_000;
/** The server's share: throughput to a raw client against the relay that also writes a file. */
const SERVER_SHARE_TARGET = 0.9;
/** progressChunkBytes' default: no notification may carry more output. */
const CHUNK_BYTES = 64 * 1024;

/**
 * The server's output logs of finished runs, deleted after each run as the relay's file is: kept, hundreds of MiB of
 * dirty pages pile up across runs until the kernel writes them back, and whichever run is going then pays for it.
 */
function removeOutputLogs(dataDir: string): void {
  const dir = join(dataDir, 'responses');
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (/\.(stdout\.log|stderr\.log|index)$/.test(name)) rmSync(join(dir, name), { force: true });
  }
}

export async function benchStreamThroughput(ctx: BenchContext, opts: StreamOptions): Promise<Row[]> {
  const bytes = Math.round(opts.mib * MIB);
  const command = producerCommand(bytes);
  const timeoutMs = 60_000 + bytes / 1_000; // 1 MB/s floor: a hang fails instead of stalling the bench
  const server = await startServer(ctx.children);
  const relay = startRole(ctx.children, 'relay-server', {});
  const relayLog = resolve(server.dataDir, '..', `relay-${process.pid}.log`);
  try {
    const ready = await relay.next<RoleMessage & { url: string; pid: number }>('ready', 15_000);

    const measure = async (which: Variant, cmd: string, expected: number): Promise<Run> => {
      const serverPid = which === 'relay' || which === 'relayFile' ? ready.pid : server.pid;
      const cpu0 = readCpuMs(serverPid);
      // Commands are reaped by whoever forked them: the server's fork server when it has one (config forkServer).
      const forker = serverPid === server.pid ? (findForkServer(server.pid) ?? server.pid) : serverPid;
      const producer0 = readChildrenCpuMs(forker);
      let r: StreamResult;
      if (which === 'sdk') r = await runRole<StreamResult>(ctx.children, 'sdk-stream-client', { url: server.url, command: cmd }, timeoutMs);
      else if (which === 'raw')
        r = await runRole<StreamResult>(
          ctx.children,
          'raw-mcp-client',
          { url: server.url, command: cmd, bytesPerSecond: 0, autoStart: true },
          timeoutMs,
        );
      else {
        r = await runRole<StreamResult>(
          ctx.children,
          'relay-client',
          { url: ready.url, command: cmd, ...(which === 'relayFile' ? { logFile: relayLog } : {}) },
          timeoutMs,
        );
        rmSync(relayLog, { force: true });
      }
      if (which === 'sdk' || which === 'raw') removeOutputLogs(server.dataDir);
      const ok = r.bytes === expected && r.exitCode === 0 && (r.reportedBytes === null || r.reportedBytes === expected);
      return {
        mibPerS: r.bytes / MIB / (r.ms / 1000),
        bytes: r.bytes,
        messages: r.notifications,
        clientCpuMs: r.cpuMs,
        serverCpuMs: readCpuMs(serverPid) - cpu0,
        producerCpuMs: readChildrenCpuMs(forker) - producer0,
        reads: which === 'raw' ? (r.lastSeq ?? null) : which === 'sdk' ? null : r.notifications,
        ok,
        ...(typeof r.maxOutputBytes === 'number' ? { maxOutputBytes: r.maxOutputBytes, maxFrameBytes: r.maxFrameBytes as number } : {}),
        ...(ok ? {} : { failure: { reportedBytes: r.reportedBytes, exitCode: r.exitCode, outcome: r.outcome ?? null } }),
      };
    };

    ctx.progress(`stream: warm-up (${WARMUP_BYTES / MIB} MiB each way)`);
    for (const which of VARIANTS) await measure(which, producerCommand(WARMUP_BYTES), WARMUP_BYTES);

    const idleProbe = startHealthProbe(server.url);
    await new Promise((r) => setTimeout(r, IDLE_PROBE_MS));
    const idleLatencies = await idleProbe.stop();

    const runs: Record<Variant, Run[]> = { sdk: [], raw: [], relay: [], relayFile: [] };
    for (let i = 0; i < opts.runs; i++) {
      // Rotate the order so drift in machine load hits every variant alike.
      for (let j = 0; j < VARIANTS.length; j++) {
        const which = VARIANTS[(i + j) % VARIANTS.length]!;
        const run = await measure(which, command, bytes);
        runs[which].push(run);
        ctx.progress(
          `stream: run ${i + 1}/${opts.runs} ${which.padEnd(8)} ${run.mibPerS.toFixed(1)} MiB/s${run.ok ? '' : ' (BYTE COUNT MISMATCH)'}`,
        );
      }
    }

    // Responsiveness while streaming, in runs of their own: probes change throughput on 2 cores, so the
    // timed runs above have none. The relay answers a plain GET with 426, which times its loop the same way.
    const busyLatencies: Record<'sdk' | 'relay', number[]> = { sdk: [], relay: [] };
    const probed: Run[] = [];
    for (const which of ['sdk', 'relay'] as const) {
      const probe = startHealthProbe(which === 'relay' ? ready.url : server.url);
      probed.push(await measure(which, command, bytes));
      busyLatencies[which] = await probe.stop();
    }
    ctx.progress(`stream: probed runs done`);

    const allOk = VARIANTS.every((v) => runs[v].every((r) => r.ok)) && probed.every((r) => r.ok);
    const rate = (v: Variant) => median(runs[v].map((r) => r.mibPerS));
    const perGiB = (v: Variant, key: 'clientCpuMs' | 'serverCpuMs' | 'producerCpuMs') =>
      median(runs[v].map((r) => r[key] / 1000 / (r.bytes / 1024 / MIB)));
    const meanReadKiB = (v: Variant) => median(runs[v].map((r) => (r.reads ? r.bytes / r.reads / 1024 : NaN)));
    const sdkRatio = rate('sdk') / rate('relay');
    const share = rate('raw') / rate('relayFile');
    const maxOutput = Math.max(...runs.raw.map((r) => r.maxOutputBytes ?? 0));
    const maxFrame = Math.max(...runs.raw.map((r) => r.maxFrameBytes ?? 0));
    ctx.details.stream = {
      bytes,
      runs: opts.runs,
      server: 'cc-executor as a separate process (node dist/src/main.js); each client in a process of its own',
      probedRuns: 'one run of each with an HTTP GET every 20 ms, for the latency rows; not counted in throughput',
      ...runs,
      probed,
      probeMs: {
        idle: { p50: round(percentile(idleLatencies, 50), 3), p99: round(percentile(idleLatencies, 99), 3) },
        ...Object.fromEntries(
          (['sdk', 'relay'] as const).map((v) => [
            v,
            {
              p50: round(percentile(busyLatencies[v], 50), 3),
              p99: round(percentile(busyLatencies[v], 99), 3),
              max: round(Math.max(...busyLatencies[v]), 3),
            },
          ]),
        ),
      },
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
        id: 'stream-server-share',
        figure: `stdout stream ${label} to a raw ws MCP client (median of ${opts.runs})`,
        unit: 'MiB/s',
        ours: round(rate('raw')),
        baseline: round(rate('relayFile')),
        ratio: round(share, 3),
        target: `>= ${SERVER_SHARE_TARGET}x`,
        pass: allOk && share >= SERVER_SHARE_TARGET,
        note: allOk
          ? `every run delivered exactly ${bytes} bytes; baseline: bare ws relay that also writes the bytes to a file, to a bare ws client`
          : 'BYTE COUNT MISMATCH in some run (see details in latest.json)',
      },
      info(
        'stream-server-cpu',
        'server CPU per GiB streamed (vs relay writing a file)',
        's',
        perGiB('raw', 'serverCpuMs'),
        perGiB('relayFile', 'serverCpuMs'),
      ),
      {
        ...info(
          'stream-raw-client-cpu',
          "raw MCP client CPU per GiB (vs the relay's client)",
          's',
          perGiB('raw', 'clientCpuMs'),
          perGiB('relayFile', 'clientCpuMs'),
        ),
        note: 'both clients JSON.parse every message and count its text; near 1x says the share compares the servers, not the clients',
      },
      {
        ...info(
          'stream-producer-cpu',
          "the command's CPU per GiB (yes piped to head; vs the same command under the relay)",
          's',
          perGiB('raw', 'producerCpuMs'),
          perGiB('relayFile', 'producerCpuMs'),
        ),
        note: 'a reader that takes the pipe in small reads wakes for more of the producer writes, and each wake-up costs the producer CPU too',
      },
      {
        ...info(
          'stream-read-size',
          "mean read of the command's output (vs the relay's reads)",
          'KiB',
          meanReadKiB('raw'),
          meanReadKiB('relayFile'),
        ),
        note: "ours: bytes / the execution's chunks (one per pipe read); the relay: bytes / its frames (one per read)",
      },
      {
        id: 'stream-notification-size',
        figure: 'largest stdout output in one progress notification',
        unit: 'bytes',
        ours: maxOutput,
        baseline: CHUNK_BYTES,
        ratio: round(maxOutput / CHUNK_BYTES, 3),
        target: `<= progressChunkBytes (${CHUNK_BYTES})`,
        pass: maxOutput > 0 && maxOutput <= CHUNK_BYTES,
        note: `largest progress frame on the wire ${maxFrame} bytes`,
      },
      {
        ...info(
          'stream-throughput',
          `stdout stream ${label} to the SDK client (median of ${opts.runs})`,
          'MiB/s',
          rate('sdk'),
          rate('relay'),
        ),
        ratio: round(sdkRatio, 3),
        note: 'baseline: bare ws relay to a bare ws client; the gap is mostly the SDK client (docs/sdk-client-throughput.md)',
      },
      info(
        'stream-client-cpu',
        'SDK client CPU per GiB (vs bare ws client)',
        's',
        perGiB('sdk', 'clientCpuMs'),
        perGiB('relay', 'clientCpuMs'),
      ),
      info(
        'stream-http-probe-p99',
        'HTTP GET p99 to the server while it streams (vs relay)',
        'ms',
        percentile(busyLatencies.sdk, 99),
        percentile(busyLatencies.relay, 99),
      ),
    ];
  } finally {
    await Promise.all([server.stop(), ctx.children.stop(relay.child)]);
  }
}
