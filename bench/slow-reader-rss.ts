// Server memory while a slow client reads (WebSocket, Streamable HTTP): back-pressure must hold output back, not buffer it.
import { nulCommand, producerCommand, singleLineCommand } from './lib/producer.js';
import { readMemory, RssSampler } from './lib/proc-stats.js';
import type { BenchContext, Row } from './lib/report.js';
import { startRole, type RoleMessage } from './lib/role.js';
import { startServer } from './lib/server.js';
import { MIB, median, round } from './lib/stats.js';

export interface SlowReaderOptions {
  mib: number;
  /** The reader reads for readMs, then pauses its socket for pausedMs, over and over. */
  readMs: number;
  pausedMs: number;
}

interface SlowResult extends RoleMessage {
  bytes: number;
  ms: number;
  cpuMs: number;
  pauses: number;
  reportedBytes: number | null;
  exitCode: number | null;
}

const RSS_TARGET_MIB = 32;
const IDLE_SAMPLES = 10;
const SAMPLE_MS = 20;

type Shape = 'lines' | 'single-line' | 'NUL bytes';

const COMMANDS: Record<Shape, (bytes: number) => string> = {
  lines: producerCommand,
  'single-line': singleLineCommand,
  'NUL bytes': nulCommand,
};

/** A kind of slow client: which transport it reads, as which bench role, and how its rows are named. */
interface Reader {
  key: 'ws' | 'http' | 'legacy';
  role: string;
  /** Prefix of the row ids (the WebSocket rows keep their historic ids). */
  idPrefix: string;
  /** Appended to the figure: which transport the reader is on. */
  label: string;
  /** Share of BENCH_SLOW_MIB this reader is sent (the original protocol is one message per line: slower to run). */
  share: number;
  args(serverUrl: string, command: string, cycle: { readMs: number; pausedMs: number }): Record<string, unknown>;
}

const READERS: Reader[] = [
  {
    key: 'ws',
    role: 'raw-mcp-client',
    idPrefix: 'slow-reader-rss',
    label: '',
    share: 1,
    args: (url, command, cycle) => ({ url, command, bytesPerSecond: 0, cycle }),
  },
  {
    key: 'http',
    role: 'sse-mcp-client',
    idPrefix: 'slow-reader-rss-http',
    label: ' on Streamable HTTP (SSE)',
    share: 1,
    args: (url, command, cycle) => ({ url: url.replace(/^ws:/, 'http:').replace(/\/ws\/mcp$/, '/mcp'), command, cycle }),
  },
  {
    key: 'legacy',
    role: 'legacy-client',
    idPrefix: 'slow-reader-rss-legacy',
    label: ' on the original protocol',
    share: 1 / 4,
    args: (url, command, cycle) => ({ url, command, cycle }),
  },
];

async function measureShape(ctx: BenchContext, opts: SlowReaderOptions, reader: Reader, shape: Shape, mib: number): Promise<Row> {
  const bytes = Math.round(mib * MIB);
  const server = await startServer(ctx.children);
  const client = startRole(
    ctx.children,
    reader.role,
    reader.args(server.url, COMMANDS[shape](bytes), { readMs: opts.readMs, pausedMs: opts.pausedMs }),
  );
  try {
    await client.next('ready', 20_000);
    // Idle: connected, one call done, nothing running. Let startup garbage settle first.
    await new Promise((r) => setTimeout(r, 1_000));
    const idleSamples: number[] = [];
    for (let i = 0; i < IDLE_SAMPLES; i++) {
      idleSamples.push(readMemory(server.pid)!.rss);
      await new Promise((r) => setTimeout(r, 50));
    }
    const idle = median(idleSamples);

    ctx.progress(
      `slow reader${reader.label}, ${shape}: ${mib} MiB, reading ${opts.readMs} ms / paused ${opts.pausedMs} ms (idle RSS ${(idle / MIB).toFixed(1)} MiB)`,
    );
    const sampler = new RssSampler(server.pid, SAMPLE_MS);
    client.send({ type: 'go' });
    let r: SlowResult;
    try {
      r = await client.next<SlowResult>('result', 60_000 + bytes / 2_000);
    } finally {
      sampler.stop();
    }
    const hwm = readMemory(server.pid)!.hwm;
    const ok = r.bytes === bytes && r.exitCode === 0 && r.reportedBytes === bytes;
    const peak = Math.max(hwm, sampler.peakRss);
    const overIdle = (peak - idle) / MIB;
    (ctx.details.slowReader ??= {}) as Record<string, unknown>;
    (ctx.details.slowReader as Record<string, unknown>)[reader.key === 'ws' ? shape : `${reader.key} ${shape}`] = {
      bytes,
      deliveredBytes: r.bytes,
      reportedBytes: r.reportedBytes,
      achievedMiBps: round(r.bytes / MIB / (r.ms / 1000)),
      clientPauses: r.pauses,
      idleRssMiB: round(idle / MIB),
      hwmAfterMiB: round(hwm / MIB),
      sampledPeakRssMiB: round(sampler.peakRss / MIB),
    };
    return {
      id: `${reader.idPrefix}-${shape.replace(' ', '-').toLowerCase()}`,
      figure: `server RSS over idle, ${round(mib, 1)} MiB of ${shape} to a slow reader${reader.label}`,
      unit: 'MiB',
      ours: round(overIdle),
      baseline: round(idle / MIB),
      ratio: round(peak / idle, 3),
      target: `< ${RSS_TARGET_MIB} MiB over idle`,
      pass: ok && overIdle < RSS_TARGET_MIB,
      note:
        `peak ${(peak / MIB).toFixed(1)} MiB (VmHWM and VmRSS every ${SAMPLE_MS} ms) against idle ${(idle / MIB).toFixed(1)} MiB; ` +
        (ok ? `all ${bytes} bytes delivered` : `DELIVERED ${r.bytes} of ${bytes} bytes (reported ${r.reportedBytes})`) +
        ` at ${(r.bytes / MIB / (r.ms / 1000)).toFixed(1)} MiB/s`,
    };
  } finally {
    await Promise.all([server.stop(), ctx.children.stop(client.child)]);
  }
}

/** BENCH_SLOW_SHAPES picks some of the shapes (comma-separated: lines, single-line, nul); default all three. */
function selectedShapes(): Shape[] {
  const raw = process.env.BENCH_SLOW_SHAPES;
  const all: Array<[string, Shape]> = [
    ['lines', 'lines'],
    ['single-line', 'single-line'],
    ['nul', 'NUL bytes'],
  ];
  if (raw === undefined || raw.trim() === '') return all.map(([, shape]) => shape);
  const wanted = raw.split(',').map((s) => s.trim().toLowerCase());
  return all.filter(([key]) => wanted.includes(key)).map(([, shape]) => shape);
}

/** BENCH_SLOW_TRANSPORTS picks the readers (comma-separated: ws, http, legacy); default all. */
function selectedReaders(): Reader[] {
  const raw = process.env.BENCH_SLOW_TRANSPORTS;
  if (raw === undefined || raw.trim() === '') return READERS;
  const wanted = raw.split(',').map((s) => s.trim().toLowerCase());
  return READERS.filter((r) => wanted.includes(r.key));
}

export async function benchSlowReaderRss(ctx: BenchContext, opts: SlowReaderOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const reader of selectedReaders()) {
    for (const shape of selectedShapes()) {
      // Each NUL is 6 bytes on the wire (\u0000): a sixth of the output moves about as many bytes.
      const mib = opts.mib * reader.share;
      rows.push(await measureShape(ctx, opts, reader, shape, shape === 'NUL bytes' ? mib / 6 : mib));
    }
  }
  return rows;
}
