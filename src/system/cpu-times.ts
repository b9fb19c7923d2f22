// Whole-machine CPU tick counters, read without blocking the event loop, and the busy share between two readings.
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';

/** Cumulative CPU time of the whole machine, in clock ticks (Linux) or ms (os.cpus() fallback). */
export interface CpuTimes {
  busy: number;
  total: number;
}

/**
 * Parse the aggregate `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal guest guest_nice.
 * Idle time is idle + iowait; guest time is already counted in user/nice, so it is left out of the total.
 */
export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n', 1)[0] ?? '';
  if (!line.startsWith('cpu ')) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const idleAll = idle + iowait;
  const total = user + nice + system + idleAll + irq + softirq + steal;
  return { busy: total - idleAll, total };
}

/**
 * Read the machine's CPU counters: /proc/stat through fs.promises on Linux (no subprocess, no
 * synchronous read), os.cpus() elsewhere (a syscall, not a subprocess).
 */
export async function readCpuTimes(): Promise<CpuTimes | undefined> {
  try {
    const parsed = parseProcStat(await readFile('/proc/stat', 'utf8'));
    if (parsed) return parsed;
  } catch {
    // not Linux, or /proc not mounted: fall back below
  }
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return total > 0 ? { busy, total } : undefined;
}

/** Busy share in percent between two readings, or null when no time passed between them. */
export function cpuPercentBetween(before: CpuTimes | undefined, after: CpuTimes): number | null {
  const total = after.total - (before?.total ?? 0);
  const busy = after.busy - (before?.busy ?? 0);
  if (total <= 0) return null;
  return Math.min(100, Math.max(0, (busy / total) * 100));
}
