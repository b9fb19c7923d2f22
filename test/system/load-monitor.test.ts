// The real load monitor: sane CPU figures, and the GPU path end to end through a fake nvidia-smi on PATH.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadMonitor } from '../../src/system/load-monitor.js';
import { callTool, connectWs, structured, waitFor } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';

const FAKE_BIN = fileURLToPath(new URL('../fixtures/bin', import.meta.url));
const POLICY = { cpuThreshold: 14, gpuThreshold: 14, multiplier: 3, cpuSampleMs: 100, gpuSampleMs: 100 };

let proc: ServerProcess | undefined;
afterEach(() => {
  proc?.kill();
  proc = undefined;
});

describe('LoadMonitor', () => {
  it('has a CPU reading as soon as the first sample after start() is in (the server waits for it before listening)', async () => {
    const monitor = new LoadMonitor({ ...POLICY, cpuSampleMs: 60_000, gpuSampleMs: 60_000 });
    monitor.start();
    try {
      await monitor.whenSampled();
      expect(monitor.current().cpu).not.toBeNull();
    } finally {
      monitor.stop();
    }
  });

  it('samples real CPU use as a percentage, and GPU as null or a percentage', async () => {
    const monitor = new LoadMonitor(POLICY);
    await monitor.sampleCpu();
    await new Promise((r) => setTimeout(r, 150));
    await monitor.sampleCpu();
    await monitor.sampleGpu();
    const r = monitor.current();
    expect(r.cpu).not.toBeNull();
    expect(r.cpu!).toBeGreaterThanOrEqual(0);
    expect(r.cpu!).toBeLessThanOrEqual(100);
    if (r.gpu !== null) expect(r.gpu).toBeGreaterThanOrEqual(0);
    expect(Date.parse(r.sampledAt!)).toBeGreaterThan(Date.now() - 10_000);
    expect([1, 3]).toContain(r.multiplier);
  });

  it('reads the busiest GPU from nvidia-smi on PATH, end to end through status', async () => {
    proc = await spawnServer(['--gpu-sample-ms', '200'], { PATH: `${FAKE_BIN}:${process.env.PATH}` });
    const client = await connectWs(proc.url);
    await waitFor(async () => structured(await callTool(client, 'status', {})).server.load.gpu !== null, 5_000, 'a GPU sample');
    const load = structured(await callTool(client, 'status', {})).server.load;
    expect(load.gpu).toBe(42);
    expect(load.multiplier).toBe(3);
    await client.close();
  });
});
