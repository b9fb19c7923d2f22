// FlowMeter directly: bytes in flight per session, full above high water, drained at or below low water.
import { describe, expect, it } from 'vitest';
import { FlowMeter } from '../../src/sessions/flow-meter.js';

/** A write the test settles by hand, as a transport's send() would once the bytes are written. */
function write(): { written: Promise<void>; done(): void; fail(): void } {
  let done!: () => void;
  let fail!: () => void;
  const written = new Promise<void>((resolve, reject) => {
    done = resolve;
    fail = () => reject(new Error('socket closed'));
  });
  return { written, done, fail };
}

/** Let settled writes run their callbacks. */
const tick = () => new Promise((r) => setImmediate(r));

/** Whether `p` has resolved by the next turn. */
async function resolvedSoon(p: Promise<unknown>): Promise<boolean> {
  let resolved = false;
  void p.then(() => (resolved = true));
  await tick();
  return resolved;
}

describe('FlowMeter', () => {
  it('counts bytes in flight until their write settles, and every byte ever tracked', async () => {
    const meter = new FlowMeter(100, 10);
    const a = write();
    const b = write();
    meter.track(30, a.written);
    meter.track(20, b.written);
    expect(meter.pendingBytes).toBe(50);
    expect(meter.trackedBytes).toBe(50);
    a.done();
    await tick();
    expect(meter.pendingBytes).toBe(20);
    b.done();
    await tick();
    expect(meter.pendingBytes).toBe(0);
    expect(meter.trackedBytes).toBe(50);
    expect(meter.full).toBe(false);
    expect(await resolvedSoon(meter.drained())).toBe(true);
  });

  it('is full only above high water, and drained() waits until the bytes in flight fall to low water', async () => {
    const meter = new FlowMeter(100, 10);
    const writes = [write(), write(), write()];
    meter.track(100, writes[0]!.written);
    expect(meter.full).toBe(false); // at the mark is not above it
    meter.track(5, writes[1]!.written);
    meter.track(6, writes[2]!.written);
    expect(meter.full).toBe(true);
    expect(meter.pauses).toBe(1);
    const drained = meter.drained();
    writes[1]!.done();
    await tick();
    expect(meter.pendingBytes).toBe(106);
    expect(meter.full).toBe(true);
    writes[0]!.done(); // 6 left: at or below low water
    await tick();
    expect(meter.full).toBe(false);
    expect(await resolvedSoon(drained)).toBe(true);
  });

  it('stays full between the two marks (no flapping) and counts each crossing of high water once', async () => {
    const meter = new FlowMeter(100, 10);
    const big = write();
    const rest = write();
    meter.track(90, big.written);
    meter.track(20, rest.written);
    expect(meter.pauses).toBe(1);
    rest.done(); // 90 in flight: below high water, above low water
    await tick();
    expect(meter.full).toBe(true);
    const more = write();
    meter.track(20, more.written); // above high water again while still full: the same pause
    expect(meter.pauses).toBe(1);
    big.done();
    more.done();
    await tick();
    expect(meter.full).toBe(false);
    const again = write();
    meter.track(101, again.written);
    expect(meter.pauses).toBe(2);
    again.done();
    await tick();
  });

  it('counts a write that failed as settled: a broken socket does not hold the session full forever', async () => {
    const meter = new FlowMeter(10, 0);
    const w = write();
    meter.track(50, w.written);
    expect(meter.full).toBe(true);
    const drained = meter.drained();
    w.fail();
    await tick();
    expect(meter.pendingBytes).toBe(0);
    expect(meter.full).toBe(false);
    expect(await resolvedSoon(drained)).toBe(true);
  });

  it('close() lets every waiter go although the bytes are still in flight', async () => {
    const meter = new FlowMeter(10, 0);
    const w = write();
    meter.track(50, w.written);
    const first = meter.drained();
    const second = meter.drained();
    expect(await resolvedSoon(first)).toBe(false);
    meter.close();
    expect(await resolvedSoon(Promise.all([first, second]))).toBe(true);
    expect(meter.full).toBe(false);
    w.done();
    await tick();
    expect(meter.pendingBytes).toBe(0);
  });
});
