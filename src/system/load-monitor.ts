// Samples CPU and GPU use in the background and caches the latest reading; never sampled on a request path.
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { cpuPercentBetween, readCpuTimes, type CpuTimes } from './cpu-times.js';

const runFile = promisify(execFile);

export interface LoadReading {
  /** Whole-machine CPU use in percent, null before the first sample. */
  cpu: number | null;
  /** Busiest GPU's use in percent, null without a GPU or nvidia-smi. */
  gpu: number | null;
  sampledAt: string | null;
  multiplier: number;
}

export interface LoadPolicy {
  cpuThreshold: number;
  gpuThreshold: number;
  multiplier: number;
  cpuSampleMs: number;
  gpuSampleMs: number;
}

const NVIDIA_SMI_TIMEOUT_MS = 5_000;

/**
 * Emits 'sample' (LoadReading) after every change. Tests feed readings through `record()`,
 * the same entry point the samplers use.
 */
export class LoadMonitor extends EventEmitter<{ sample: [LoadReading] }> {
  private cpu: number | null = null;
  private gpu: number | null = null;
  private sampledAt: string | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private gpuAvailable = true;
  /** The counters of the previous CPU sample: each reading is the busy share since then. */
  private lastCpuTimes: CpuTimes | undefined;
  /** Settles once the first CPU sample after start() is in (resolved at once when not started). */
  private firstSample: Promise<void> = Promise.resolve();

  constructor(
    private readonly policy: LoadPolicy,
    private readonly logger?: Logger,
  ) {
    super();
    // One listener per running execution's deadline clock: hundreds are normal, not a leak.
    this.setMaxListeners(0);
  }

  current(): LoadReading {
    return { cpu: this.cpu, gpu: this.gpu, sampledAt: this.sampledAt, multiplier: this.multiplierFor(this.cpu, this.gpu) };
  }

  multiplierFor(cpu: number | null, gpu: number | null): number {
    const loaded = (cpu !== null && cpu > this.policy.cpuThreshold) || (gpu !== null && gpu > this.policy.gpuThreshold);
    return loaded ? this.policy.multiplier : 1;
  }

  /** Store a reading (from a sampler, or injected by a test) and notify listeners. */
  record(reading: { cpu?: number | null; gpu?: number | null }): void {
    if (reading.cpu !== undefined) this.cpu = reading.cpu === null ? null : Math.round(reading.cpu * 10) / 10;
    if (reading.gpu !== undefined) this.gpu = reading.gpu;
    this.sampledAt = new Date().toISOString();
    this.emit('sample', this.current());
  }

  start(): void {
    if (this.timers.length > 0) return;
    const loop = (fn: () => Promise<void>, ms: number): Promise<void> => {
      const tick = () => fn().catch((e: unknown) => this.logger?.debug({ err: e }, 'load sample failed'));
      const first = tick();
      const t = setInterval(() => void tick(), ms);
      t.unref();
      this.timers.push(t);
      return first;
    };
    this.firstSample = loop(() => this.sampleCpu(), this.policy.cpuSampleMs);
    void loop(() => this.sampleGpu(), this.policy.gpuSampleMs);
  }

  /** Resolves once the first CPU sample is taken: the server waits for it before it accepts connections. */
  whenSampled(): Promise<void> {
    return this.firstSample;
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /**
   * CPU use since the previous sample (the first one: since boot). Reads /proc/stat asynchronously:
   * systeminformation's currentLoad() runs execSync('cat /proc/stat'), a subprocess that stalled the
   * event loop for ~30 ms on a loaded machine. `npm run bench` measures the event-loop delay sampling costs.
   */
  async sampleCpu(): Promise<void> {
    const now = await readCpuTimes();
    if (!now) return;
    const percent = cpuPercentBetween(this.lastCpuTimes, now);
    this.lastCpuTimes = now;
    if (percent !== null) this.record({ cpu: percent });
  }

  /**
   * GPU use via `nvidia-smi`, asynchronously. systeminformation's graphics() runs nvidia-smi and lspci
   * through execFileSync/execSync, which would stall the event loop, so it is not used here.
   */
  async sampleGpu(): Promise<void> {
    if (!this.gpuAvailable) return;
    // node:child_process, not execa: spawning commands with execa is the local backend's business alone.
    const stdout = await runFile('nvidia-smi', ['--query-gpu=utilization.gpu', '--format=csv,noheader,nounits'], {
      timeout: NVIDIA_SMI_TIMEOUT_MS,
    }).then(
      (r) => r.stdout,
      () => null,
    );
    const values =
      stdout === null
        ? []
        : stdout
            .split('\n')
            .map((l) => Number.parseFloat(l.trim()))
            .filter((n) => Number.isFinite(n));
    if (values.length === 0) {
      this.gpuAvailable = false;
      this.logger?.info('no usable nvidia-smi: GPU load is not sampled');
      if (this.gpu !== null) this.record({ gpu: null });
      return;
    }
    this.record({ gpu: Math.max(...values) });
  }
}
