// Short human forms for durations, sizes, ids and states.
import type { ExecutionEntry } from './types.js';

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function shortId(id: string | undefined): string {
  return id ? id.slice(0, 8) : '-';
}

/** The state as people say it: waiting for input beats running; a finished run shows how it ended. */
export function stateLabel(e: ExecutionEntry): string {
  if (e.state === 'running' && e.waitingForInput === true) return 'waiting for input';
  if (e.state === 'exited') return 'finished';
  return e.state;
}

/** Exit code, signal or termination reason, in one short phrase. */
export function outcome(e: ExecutionEntry): string {
  if (e.state === 'running' || e.state === 'paused') return '';
  const parts: string[] = [];
  if (e.signal) parts.push(e.signal);
  else if (e.exitCode !== null && e.exitCode !== undefined) parts.push(`exit ${e.exitCode}`);
  if (e.terminationReason) parts.push(e.terminationReason);
  if (e.state === 'lost' && typeof e.lostReason === 'string') parts.push(e.lostReason);
  return parts.join(' · ');
}
