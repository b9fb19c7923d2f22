// GET /metrics parsed with a real Prometheus text parser: the counters and gauges move as executions and sessions do.
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { callTool, callWithProgress, startTestServer, structured, waitFor } from './helpers/server.js';
import { useTestServer } from './helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

async function scrape(baseUrl: string): Promise<Map<string, ParsedFamily>> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(await res.text());
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of one sample, 0 when the family has no sample with these labels. */
function value(metrics: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  const family = metrics.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? 0 : Number(sample.value);
}

describe('GET /metrics', () => {
  it('counts executions by outcome, their duration and output, and reports live gauges', async () => {
    await fx.start({ graceMs: 500 });
    const base = fx.server.net.baseUrl;
    const before = await scrape(base);
    expect(before.get('cc_executor_executions_started_total')?.type).toBe('COUNTER');
    expect(value(before, 'cc_executor_executions_started_total')).toBe(0);
    expect(value(before, 'cc_executor_sessions', { transport: 'http' })).toBe(0);
    // Default process metrics, from this engine's own registry.
    expect(before.has('process_cpu_user_seconds_total')).toBe(true);
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true);

    const { client } = await fx.connectHttp(fx.server.net.httpUrl);
    const ws = await fx.connect();

    const ok = await callWithProgress(client, 'execute', { command: 'printf 12345; printf abc >&2' });
    const failed = await callTool(client, 'execute', { command: 'exit 7' });
    groups.addResult(ok.result);
    groups.addResult(failed);
    const bg = structured(await callTool(client, 'execute', { command: 'while :; do sleep 0.05; done', background: true }));
    const paused = structured(await callTool(ws, 'execute', { command: 'sleep 30', background: true }));
    groups.add(bg.pgid);
    groups.add(paused.pgid);
    await callTool(ws, 'control', { id: paused.id, action: 'pause' });
    fx.server.engine.load.record({ cpu: 50, gpu: 5 });

    const during = await scrape(base);
    expect(value(during, 'cc_executor_executions_started_total')).toBe(4);
    expect(value(during, 'cc_executor_executions_finished_total', { outcome: 'exited_zero' })).toBe(1);
    expect(value(during, 'cc_executor_executions_finished_total', { outcome: 'exited_nonzero' })).toBe(1);
    expect(value(during, 'cc_executor_executions_running')).toBe(1);
    expect(value(during, 'cc_executor_executions_paused')).toBe(1);
    expect(value(during, 'cc_executor_executions_background')).toBe(2);
    expect(value(during, 'cc_executor_sessions', { transport: 'http' })).toBe(1);
    expect(value(during, 'cc_executor_sessions', { transport: 'websocket' })).toBe(1);
    expect(value(during, 'cc_executor_output_bytes_total', { stream: 'stdout' })).toBe(5);
    expect(value(during, 'cc_executor_output_bytes_total', { stream: 'stderr' })).toBe(3);
    expect(value(during, 'cc_executor_load_percent', { resource: 'cpu' })).toBe(50);
    expect(value(during, 'cc_executor_load_percent', { resource: 'gpu' })).toBe(5);
    expect(value(during, 'cc_executor_load_multiplier')).toBe(3);
    const histogram = during.get('cc_executor_execution_duration_seconds')!;
    expect(histogram.type).toBe('HISTOGRAM');
    expect(Number(histogram.metrics[0]!.count)).toBe(2);
    expect(Number(histogram.metrics[0]!.buckets!['+Inf'])).toBe(2);

    await callTool(client, 'control', { id: bg.id, action: 'cancel' });
    await callTool(ws, 'control', { id: paused.id, action: 'kill' });
    const timedOut = await callTool(client, 'execute', { command: 'sleep 30', timeoutMs: 200 });
    groups.addResult(timedOut);
    expect(structured(timedOut).terminationReason).toBe('timeout');

    const after = await scrape(base);
    expect(value(after, 'cc_executor_executions_started_total')).toBe(5);
    expect(value(after, 'cc_executor_executions_finished_total', { outcome: 'cancel' })).toBe(1);
    expect(value(after, 'cc_executor_executions_finished_total', { outcome: 'kill' })).toBe(1);
    expect(value(after, 'cc_executor_executions_finished_total', { outcome: 'timeout' })).toBe(1);
    expect(value(after, 'cc_executor_executions_running')).toBe(0);
    expect(value(after, 'cc_executor_executions_paused')).toBe(0);
    expect(Number(after.get('cc_executor_execution_duration_seconds')!.metrics[0]!.count)).toBe(5);
  });

  it('counts output of a running execution before it ends, and disconnects as an outcome', async () => {
    await fx.start({ graceMs: 500 });
    const ws = await fx.connect();
    const running = structured(await callTool(ws, 'execute', { command: 'printf hello; sleep 30', waitMs: 100 }));
    groups.add(running.pgid);
    await waitFor(() => fx.server.engine.executions.find(running.id).log.bytes.stdout === 5, 5_000, 'output');
    expect(value(await scrape(fx.server.net.baseUrl), 'cc_executor_output_bytes_total', { stream: 'stdout' })).toBe(5);

    await ws.close();
    await waitFor(() => fx.server.engine.executions.find(running.id).state === 'exited', 10_000, 'disconnect to end the execution');
    const after = await scrape(fx.server.net.baseUrl);
    expect(value(after, 'cc_executor_executions_finished_total', { outcome: 'disconnect' })).toBe(1);
    expect(value(after, 'cc_executor_output_bytes_total', { stream: 'stdout' })).toBe(5);
  });

  it('adds the CPU time cgroup containment measured for each execution, and nothing where it measures none', async () => {
    await fx.start({ graceMs: 500 });
    const ws = await fx.connect();
    const r = structured(await callTool(ws, 'execute', { command: 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done' }));
    groups.add(r.pgid);
    const metrics = await scrape(fx.server.net.baseUrl);
    const cpu = value(metrics, 'cc_executor_execution_cpu_seconds_total');
    expect(metrics.get('cc_executor_execution_memory_peak_bytes')?.type).toBe('HISTOGRAM');
    if (r.usage?.cpuMs == null) {
      expect(cpu).toBe(0);
      return;
    }
    // The loop burns well over 50 ms of CPU on any machine; the counter holds exactly what status reports.
    expect(r.usage.cpuMs).toBeGreaterThan(50);
    expect(cpu).toBeCloseTo(r.usage.cpuMs / 1000, 3);
  });

  it('counts back-pressure pauses across sessions, open and ended', async () => {
    // The flood test in streamable-http.test.ts drives this through a real slow reader; here, the accounting.
    await fx.start();
    const session = fx.server.engine.sessions.open('stdio', () => undefined);
    let settle!: () => void;
    session.flow.track(fx.server.engine.config.highWaterBytes + 1, new Promise<void>((r) => (settle = r)));
    settle();
    await waitFor(() => !session.flow.full, 1_000, 'drain');
    session.flow.track(fx.server.engine.config.highWaterBytes + 1, Promise.resolve());
    expect(session.flow.pauses).toBe(2);
    expect(value(await scrape(fx.server.net.baseUrl), 'cc_executor_backpressure_pauses_total')).toBe(2);
    await fx.server.engine.sessions.end(session.id);
    expect(value(await scrape(fx.server.net.baseUrl), 'cc_executor_backpressure_pauses_total')).toBe(2);
  });

  it('keeps each engine in its own registry', async () => {
    await fx.start();
    const other = await startTestServer();
    fx.defer(() => other.close());
    const ws = await fx.connect(other.url);
    groups.addResult(await callTool(ws, 'execute', { command: 'true' }));
    expect(value(await scrape(other.net.baseUrl), 'cc_executor_executions_started_total')).toBe(1);
    expect(value(await scrape(fx.server.net.baseUrl), 'cc_executor_executions_started_total')).toBe(0);
  });
});
