// CPU tick counters from /proc/stat: parsing, the busy share between two readings, and real readings.
import { describe, expect, it } from 'vitest';
import { cpuPercentBetween, parseProcStat, readCpuTimes } from '../../src/system/cpu-times.js';

describe('cpu times', () => {
  it('counts idle and iowait as idle and leaves guest time out of the total', () => {
    const t = parseProcStat('cpu  100 10 50 800 40 5 5 10 30 0\ncpu0 1 2 3 4\n');
    // busy = user + nice + system + irq + softirq + steal; guest is already inside user.
    expect(t).toEqual({ busy: 180, total: 1020 });
  });

  it('refuses text that has no aggregate cpu line', () => {
    expect(parseProcStat('cpu0 1 2 3 4\n')).toBeUndefined();
    expect(parseProcStat('')).toBeUndefined();
  });

  it('gives the busy share between two readings, null when no time passed', () => {
    expect(cpuPercentBetween({ busy: 100, total: 1000 }, { busy: 150, total: 1200 })).toBe(25);
    expect(cpuPercentBetween({ busy: 100, total: 1000 }, { busy: 100, total: 1000 })).toBeNull();
    expect(cpuPercentBetween(undefined, { busy: 1, total: 4 })).toBe(25);
  });

  it('reads counters that only grow', async () => {
    const a = await readCpuTimes();
    await new Promise((r) => setTimeout(r, 50));
    const b = await readCpuTimes();
    expect(a && b).toBeTruthy();
    expect(b!.total).toBeGreaterThanOrEqual(a!.total);
    expect(b!.busy).toBeGreaterThanOrEqual(a!.busy);
  });
});
