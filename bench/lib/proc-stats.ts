// Memory and CPU of another process, read from /proc (Linux only): what the bench can see of the server from outside.
import { readFileSync } from 'node:fs';

const KIB = 1024;
const CLOCK_TICKS_PER_S = 100; // USER_HZ is 100 on every Linux ABI Node supports

export interface MemoryStatus {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size over the process's life ("high water mark"), bytes. */
  hwm: number;
}

export function readMemory(pid: number): MemoryStatus | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * KIB;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** User + system CPU time of a process in ms (not of its children). */
export function readCpuMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime) are indices 11 and 12 after the comm.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/** User + system CPU time in ms of the children a process has waited for (e.g. a command it ran, once reaped). */
export function readChildrenCpuMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat (cutime, cstime) are indices 13 and 14 after the comm.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS_PER_S;
}

/** Samples VmRSS every `intervalMs` until stopped; reports the largest sample. */
export class RssSampler {
  private readonly timer: NodeJS.Timeout;
  peakRss = 0;
  samples = 0;

  constructor(
    private readonly pid: number,
    intervalMs: number,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const m = readMemory(this.pid);
    if (!m) return;
    this.samples++;
    if (m.rss > this.peakRss) this.peakRss = m.rss;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

/** CPU time (user + system, ms) and minor page faults of a process so far (not of its children). */
export function readCpuAndFaults(pid: number): { cpuMs: number; minorFaults: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // minflt is field 10 of stat (index 7 after the comm); utime, stime 14 and 15.
  return { cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S, minorFaults: Number(fields[7]) };
}

/**
 * What fork() copies: anonymous resident memory and page-table size (KiB). A spawn from a process costs more
 * the more of both it has (the child's exec then tears the copy down, and the parent takes a fault per page
 * it writes afterwards).
 */
export function readForkFootprint(pid: number): { rssAnonKiB: number; pageTablesKiB: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssAnonKiB: field('RssAnon'), pageTablesKiB: field('VmPTE') };
}

/** The server's fork server (its child running fork-server-main.js), when it has one: the process that forks commands. */
export function findForkServer(serverPid: number): number | undefined {
  let children: string[];
  try {
    children = readFileSync(`/proc/${serverPid}/task/${serverPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return undefined;
  }
  for (const child of children) {
    try {
      if (readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('fork-server-main')) return Number(child);
    } catch {
      // gone
    }
  }
  return undefined;
}
