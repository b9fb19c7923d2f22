// Prometheus metrics for one engine: execution counters observed from registry events, gauges read at scrape time.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Execution, TerminationReason } from './processes/execution.js';
import type { ExecutionRegistry } from './processes/execution-registry.js';
import type { StreamName } from './processes/output-log.js';
import { TRANSPORT_KINDS, type SessionRegistry } from './sessions/session-registry.js';
import type { LoadMonitor } from './system/load-monitor.js';
import { VERSION } from './version.js';

/** How an execution ended, as one label value: the termination reason when the server ended it, else the exit. */
export type ExecutionOutcome = 'exited_zero' | 'exited_nonzero' | 'signaled' | TerminationReason;

export const METRIC_PREFIX = 'cc_executor_';

/** Seconds: from instant commands to day-long jobs. */
const DURATION_BUCKETS_S = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];
const STREAMS: StreamName[] = ['stdout', 'stderr'];

export interface MetricsSources {
  executions: ExecutionRegistry;
  sessions: SessionRegistry;
  load: LoadMonitor;
}

export interface Metrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  /** The exposition text (Prometheus text format 0.0.4). */
  render(): Promise<string>;
  /** Stop observing the registry (tests that build many engines). */
  close(): void;
}

export function outcomeOf(execution: Execution): ExecutionOutcome {
  const s = execution.snapshot();
  if (s.terminationReason !== null) return s.terminationReason;
  if (s.exitCode === 0) return 'exited_zero';
  if (s.exitCode !== null) return 'exited_nonzero';
  return 'signaled';
}

/**
 * One dedicated Registry per engine (never prom-client's global one), so several engines in one
 * process (tests) do not clash. Executions are observed through the registry's 'started'/'exited'
 * events; nothing inside Execution knows about metrics.
 */
export function createMetrics(sources: MetricsSources): Metrics {
  const { executions, sessions, load } = sources;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: `${METRIC_PREFIX}info`,
    help: 'Always 1; the version label says which cc-executor is running',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version: VERSION }, 1);

  const started = new Counter({
    name: `${METRIC_PREFIX}executions_started_total`,
    help: 'Executions spawned',
    registers: [registry],
  });
  const finished = new Counter({
    name: `${METRIC_PREFIX}executions_finished_total`,
    help: 'Executions ended, by outcome: exited_zero, exited_nonzero, signaled (by a signal nobody here sent), or the reason the server ended it (cancel, kill, timeout, idle_timeout, disconnect, shutdown)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}execution_duration_seconds`,
    help: 'Wall time from spawn to the end of output, paused time included',
    buckets: DURATION_BUCKETS_S,
    registers: [registry],
  });

  // Output is counted live: at each scrape, the growth of every execution since the last one; at exit, the rest.
  const counted = new WeakMap<Execution, Record<StreamName, number>>();
  const outputBytes = new Counter({
    name: `${METRIC_PREFIX}output_bytes_total`,
    help: 'Bytes of command output read from the pipes, by stream',
    labelNames: ['stream'],
    registers: [registry],
    // Executions may be pruned from the registry after exit: their output is counted at exit, so nothing is lost.
    collect() {
      for (const e of executions.list()) if (e.state !== 'exited') countOutput(e);
    },
  });
  for (const stream of STREAMS) outputBytes.inc({ stream }, 0);
  function countOutput(e: Execution): void {
    const seen = counted.get(e) ?? { stdout: 0, stderr: 0 };
    for (const stream of STREAMS) {
      const delta = e.log.bytes[stream] - seen[stream];
      if (delta > 0) outputBytes.inc({ stream }, delta);
      seen[stream] = e.log.bytes[stream];
    }
    counted.set(e, seen);
  }

  // CPU time the same way: live for running executions at each scrape, the rest at exit. Only containments
  // that can measure it (cgroups: cpu.stat) contribute; under process groups the counter stays at 0.
  const countedCpuMs = new WeakMap<Execution, number>();
  const cpuSeconds = new Counter({
    name: `${METRIC_PREFIX}execution_cpu_seconds_total`,
    help: 'CPU time used by everything executions started, where the containment measures it (cgroup cpu.stat)',
    registers: [registry],
    collect() {
      for (const e of executions.list()) if (e.state !== 'exited') countCpu(e);
    },
  });
  function countCpu(e: Execution): void {
    const cpuMs = e.handle.usage?.().cpuMs; // straight from the handle: a snapshot per execution per scrape is far more work
    if (typeof cpuMs !== 'number') return;
    const delta = cpuMs - (countedCpuMs.get(e) ?? 0);
    if (delta > 0) cpuSeconds.inc(delta / 1000);
    countedCpuMs.set(e, Math.max(cpuMs, countedCpuMs.get(e) ?? 0));
  }
  const memoryPeak = new Histogram({
    name: `${METRIC_PREFIX}execution_memory_peak_bytes`,
    help: 'Peak memory of each finished execution, where the cgroup memory controller measures it',
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384].map((mib) => mib * 1024 * 1024),
    registers: [registry],
  });

  new Gauge({
    name: `${METRIC_PREFIX}executions_running`,
    help: 'Executions running now (not paused)',
    registers: [registry],
    collect() {
      this.set(executions.counts().running);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}executions_paused`,
    help: 'Executions paused now (SIGSTOP)',
    registers: [registry],
    collect() {
      this.set(executions.counts().paused);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}read_gather_sleeps`,
    help: "Sleeps of the event loop after a small read of a flooding command's output (readGatherUs), since start",
    registers: [registry],
    collect() {
      this.set(executions.readGather.sleeps);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}executions_background`,
    help: 'Live background executions (they outlive their session)',
    registers: [registry],
    collect() {
      this.set(executions.counts().background);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}sessions`,
    help: 'Open sessions, by transport',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      const counts = sessions.countByTransport();
      for (const transport of TRANSPORT_KINDS) this.set({ transport }, counts[transport]);
    },
  });
  let pausesSeen = 0;
  new Counter({
    name: `${METRIC_PREFIX}backpressure_pauses_total`,
    help: 'Times a session had so much unsent output that its commands were paused until the client caught up',
    registers: [registry],
    collect() {
      const total = sessions.backPressurePauses;
      if (total > pausesSeen) this.inc(total - pausesSeen);
      pausesSeen = total;
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}load_percent`,
    help: 'Latest CPU and GPU use sample in percent (absent until sampled, or without a GPU)',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      const { cpu, gpu } = load.current();
      this.reset();
      if (cpu !== null) this.set({ resource: 'cpu' }, cpu);
      if (gpu !== null) this.set({ resource: 'gpu' }, gpu);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}load_multiplier`,
    help: 'Factor by which deadlines are stretched now (1 when the machine is not loaded)',
    registers: [registry],
    collect() {
      this.set(load.current().multiplier);
    },
  });

  const onStarted = () => started.inc();
  const onExited = (e: Execution) => {
    countOutput(e);
    countCpu(e);
    const peak = e.handle.usage?.().memoryPeakBytes;
    if (typeof peak === 'number') memoryPeak.observe(peak);
    finished.inc({ outcome: outcomeOf(e) });
    duration.observe(e.snapshot().durationMs / 1000);
  };
  executions.on('started', onStarted);
  executions.on('exited', onExited);

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close() {
      executions.off('started', onStarted);
      executions.off('exited', onExited);
    },
  };
}
