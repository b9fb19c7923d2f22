// ExecutionRegistry on the scripted backend: planning reaches the backend, limits, lookup by id or prefix, shutdown.
import { afterEach, describe, expect, it } from 'vitest';
import { createConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { ExecutionRegistry } from '../../src/processes/execution-registry.js';
import { LoadMonitor } from '../../src/system/load-monitor.js';
import { ScriptedBackend } from '../helpers/scripted-backend.js';

const logger = createLogger('silent');
let registry: ExecutionRegistry | undefined;
afterEach(async () => {
  await registry?.shutdown(10);
  registry = undefined;
});

function make(limits = { maxExecutions: 3, maxExecutionsPerSession: 2 }) {
  const backend = new ScriptedBackend();
  const config = createConfig({ logLevel: 'silent' });
  const load = new LoadMonitor({ cpuThreshold: 14, gpuThreshold: 14, multiplier: 3, cpuSampleMs: 2_000, gpuSampleMs: 10_000 });
  registry = new ExecutionRegistry(config, backend, load, logger, limits);
  return { backend, registry };
}

describe('ExecutionRegistry (scripted backend)', () => {
  it('hands the backend a launch with the shell string or argv, and keeps the execution', async () => {
    const { backend, registry } = make();
    const e = await registry.start({ sessionId: 's', command: 'echo hi', env: { A: '1' } });
    expect(backend.handles).toHaveLength(1);
    expect(backend.handles[0]!.launch).toMatchObject({ file: 'sh', args: ['-c', 'echo hi'], env: { A: '1' } });
    expect(registry.find(e.id)).toBe(e);
    backend.handles[0]!.end(0);
    await e.done;
    expect(registry.counts()).toMatchObject({ running: 0, total: 1 });
  });

  it('counts the duration from the spawn request, so a spawn that answers late is not left out', async () => {
    const { backend, registry } = make();
    const spawn = backend.spawn.bind(backend);
    // A loaded machine: the command runs, but the spawn's promise resolves 300 ms later.
    backend.spawn = (launch) => new Promise((r) => setTimeout(() => r(spawn(launch)), 300));
    const e = await registry.start({ sessionId: 's', argv: ['x'] });
    backend.handles[0]!.end(0);
    await e.done;
    expect(e.snapshot().durationMs).toBeGreaterThanOrEqual(290);
  });

  it('refuses bad requests before the backend sees them', async () => {
    const { backend, registry } = make();
    await expect(registry.start({ sessionId: 's' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(registry.start({ sessionId: 's', command: '  ' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(registry.start({ sessionId: 's', argv: ['a\0b'] })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(backend.handles).toHaveLength(0);
  });

  it('enforces the per-session and server-wide limits', async () => {
    const { registry } = make();
    await registry.start({ sessionId: 'a', argv: ['x'] });
    await registry.start({ sessionId: 'a', argv: ['x'] });
    await expect(registry.start({ sessionId: 'a', argv: ['x'] })).rejects.toMatchObject({
      code: 'LIMIT_REACHED',
      details: { limit: 'maxExecutionsPerSession' },
    });
    await registry.start({ sessionId: 'b', argv: ['x'] });
    await expect(registry.start({ sessionId: 'c', argv: ['x'] })).rejects.toMatchObject({ details: { limit: 'maxExecutions' } });
  });

  it('finds by a unique prefix of at least 4 characters, and not by a shorter one', async () => {
    const { registry } = make();
    const e = await registry.start({ sessionId: 's', argv: ['x'] });
    expect(registry.find(e.id.slice(0, 4))).toBe(e);
    expect(registry.lookup(e.id.slice(0, 3))).toBeUndefined();
    expect(() => registry.find('zzzz')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('shutdown terminates every execution and refuses new ones', async () => {
    const { backend, registry } = make();
    const e = await registry.start({ sessionId: 's', argv: ['x'] });
    await registry.shutdown(5);
    expect(e.snapshot()).toMatchObject({ state: 'exited', terminationReason: 'shutdown' });
    expect(backend.handles[0]!.calls[0]).toBe('terminate 5');
    await expect(registry.start({ sessionId: 's', argv: ['x'] })).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});
