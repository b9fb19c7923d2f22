// Load-aware deadlines with real processes and real time; load readings injected through LoadMonitor.record().
import { describe, expect, it } from 'vitest';
import { DeadlineClock } from '../../src/processes/deadline-clock.js';
import { normaliseCommand } from '../../src/processes/duration-history.js';
import { manualTimers } from '../helpers/manual-timers.js';
import { callWithProgress, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

describe('DeadlineClock (pure logic)', () => {
  it('drains at 1/multiplier while loaded, stops while paused, and fires when the budget is spent', () => {
    const timers = manualTimers();
    let fired = 0;
    const clock = new DeadlineClock(1_000, 1, () => fired++, timers);
    timers.advance(400);
    expect(clock.snapshot()).toMatchObject({ elapsedBudgetMs: 400, remainingBudgetMs: 600, stretchedMs: 0 });
    clock.setMultiplier(3);
    timers.advance(900); // 300 ms of budget
    expect(clock.snapshot()).toMatchObject({ elapsedBudgetMs: 700, multiplier: 3, stretchedMs: 600 });
    clock.pause();
    timers.advance(10_000);
    expect(clock.snapshot()).toMatchObject({ elapsedBudgetMs: 700, projectedDeadline: null });
    clock.resume();
    clock.setMultiplier(1);
    timers.advance(299);
    expect(fired).toBe(0);
    timers.advance(1);
    expect(fired).toBe(1);
  });
});

describe('normaliseCommand', () => {
  it('keys by program and subcommand, not arguments', () => {
    expect(normaliseCommand('npm test -- --watch=false', undefined)).toBe('npm test');
    expect(normaliseCommand('cd app && npm run build', undefined)).toBe('npm run build');
    expect(normaliseCommand('FOO=1 sudo pytest -x tests/', undefined)).toBe('pytest');
    expect(normaliseCommand(undefined, ['/usr/bin/git', 'status', '--short'])).toBe('git status');
    expect(normaliseCommand('make | tee log', undefined)).toBe('make');
  });
});

describe('load-aware timeouts with real processes', () => {
  it('drains the budget at 1/3 speed once load arrives, and not before', async () => {
    await fx.start();
    const { executions, load } = fx.server.engine;
    // A budget a loaded machine cannot spend before the load arrives (timers may fire late, never early).
    const execution = await executions.start({ sessionId: 's', argv: ['sleep', '30'], timeoutMs: 1_500 });
    groups.add(execution.snapshot().pgid);
    await new Promise((r) => setTimeout(r, 250));
    const before = execution.snapshot().timeout;
    expect(before.multiplier).toBe(1);
    expect(before.elapsedBudgetMs).toBeGreaterThanOrEqual(200);
    expect(before.stretchedMs).toBe(0);
    expect(before.remainingBudgetMs).toBeGreaterThan(0);
    load.record({ cpu: 80 }); // above the 14% threshold: multiplier 3
    expect(execution.snapshot().timeout.multiplier).toBe(3);
    await execution.done;
    const s = execution.snapshot();
    expect(s.terminationReason).toBe('timeout');
    // The rest of the budget drains at 1/3 speed: three times as long on the wall clock, two of them stretched.
    const rest = before.remainingBudgetMs;
    expect(s.timeout.stretchedMs).toBeGreaterThan(1.8 * rest);
    expect(s.durationMs).toBeGreaterThan(before.elapsedBudgetMs + 2.8 * rest);
    expect(s.timeout.remainingBudgetMs).toBe(0);
  });

  it('times out on budget alone on an idle machine', async () => {
    await fx.start();
    const execution = await fx.server.engine.executions.start({ sessionId: 's', argv: ['sleep', '30'], timeoutMs: 400 });
    groups.add(execution.snapshot().pgid);
    await execution.done;
    expect(execution.snapshot()).toMatchObject({ terminationReason: 'timeout', timeout: { stretchedMs: 0, multiplier: 1 } });
    expect(execution.snapshot().durationMs).toBeLessThan(1_000);
  });

  it('idle timeout fires on silence but not on a chatty process', async () => {
    await fx.start();
    const chatty = await fx.server.engine.executions.start({
      sessionId: 's',
      command: 'for i in $(seq 12); do echo x; sleep 0.1; done',
      idleTimeoutMs: 500,
    });
    const silent = await fx.server.engine.executions.start({ sessionId: 's', command: 'echo once; sleep 30', idleTimeoutMs: 500 });
    groups.add(chatty.snapshot().pgid);
    groups.add(silent.snapshot().pgid);
    await Promise.all([chatty.done, silent.done]);
    expect(chatty.snapshot()).toMatchObject({ exitCode: 0, terminationReason: null });
    expect(silent.snapshot()).toMatchObject({ terminationReason: 'idle_timeout' });
  });

  it('learns durations: progress gets a total from history, status shows expectedMs, slow runs are flagged', async () => {
    await fx.start({ dataDir: fx.tempDir('cc-history-'), progressHeartbeatMs: 100 });
    const client = await fx.connect();
    const first = await callWithProgress(client, 'execute', { argv: ['sh', '-c', 'sleep 0.3'] });
    groups.addResult(first.result);
    expect(first.streamed.notifications.every((n) => n.total === undefined)).toBe(true);
    expect(structured(first.result).expectedMs).toBeNull();

    const second = await callWithProgress(client, 'execute', { argv: ['sh', '-c', 'sleep 0.3'] });
    groups.addResult(second.result);
    const s2 = structured(second.result);
    expect(s2.expectedMs).toBeGreaterThanOrEqual(250);
    const withTotal = second.streamed.notifications.filter((n) => n.total !== undefined);
    expect(withTotal.length).toBeGreaterThan(0);
    for (const n of withTotal) expect(n.total).toBe(s2.expectedMs);
    expect(s2.slowerThanUsual).toBe(false);

    // Over 3x the learned median even when a loaded machine made the 0.3 s runs take a second each.
    const slow = await callWithProgress(client, 'execute', { argv: ['sh', '-c', 'sleep 3.5'] });
    groups.addResult(slow.result);
    expect(structured(slow.result)).toMatchObject({ slowerThanUsual: true, terminationReason: null, exitCode: 0 });
    const explicit = await callWithProgress(client, 'execute', { argv: ['sh', '-c', 'sleep 1.3'], timeoutMs: 60_000 });
    groups.addResult(explicit.result);
    expect(structured(explicit.result).slowerThanUsual).toBeNull();
    await client.close();
  });
});
