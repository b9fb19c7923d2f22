// The idle timeout: silence ends a command, output postpones it, and paused time does not count.
import { afterEach, describe, expect, it } from 'vitest';
import { IdleTimer } from '../../src/processes/idle-timer.js';
import { manualTimers } from '../helpers/manual-timers.js';
import { GroupTracker, startTestServer, waitFor, type TestServer } from '../helpers/server.js';

describe('IdleTimer (pure logic)', () => {
  it('fires after idleMs of silence, and output starts the silence again', () => {
    const timers = manualTimers();
    let fired = 0;
    const idle = new IdleTimer(1_000, () => fired++, timers);
    timers.advance(900);
    idle.touch();
    timers.advance(900);
    expect(fired).toBe(0);
    timers.advance(99);
    expect(fired).toBe(0);
    timers.advance(1);
    expect(fired).toBe(1);
    timers.advance(10_000);
    expect(fired).toBe(1);
  });

  it('does not count time while paused and continues from where it stopped', () => {
    const timers = manualTimers();
    let fired = 0;
    const idle = new IdleTimer(1_000, () => fired++, timers);
    timers.advance(600);
    idle.pause();
    timers.advance(60_000);
    expect(fired).toBe(0);
    idle.resume();
    timers.advance(399);
    expect(fired).toBe(0);
    timers.advance(1);
    expect(fired).toBe(1);
  });

  it('never fires once stopped', () => {
    const timers = manualTimers();
    let fired = 0;
    const idle = new IdleTimer(1_000, () => fired++, timers);
    idle.stop();
    idle.resume();
    timers.advance(5_000);
    expect(fired).toBe(0);
  });
});

describe('idle timeout of a real paused execution', () => {
  let server: TestServer | undefined;
  const groups = new GroupTracker();
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await groups.expectGroupsGone();
  });

  it('stays paused past its idle timeout, then ends with idle_timeout after it is resumed', async () => {
    server = await startTestServer();
    const execution = await server.engine.executions.start({ sessionId: 's', argv: ['sleep', '60'], idleTimeoutMs: 500 });
    groups.add(execution.snapshot().pgid);
    await execution.pause();
    // Three idle periods while paused: with the timer running, it would have been terminated long ago.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(execution.snapshot()).toMatchObject({ state: 'paused', terminationReason: null });
    await execution.resume();
    await waitFor(() => execution.state === 'exited', 10_000, 'the idle timeout after resume');
    expect(execution.terminationReason).toBe('idle_timeout');
  });
});
