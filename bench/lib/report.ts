// The figures a bench run produces: one row each, printed as a table and written as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ChildSet } from './children.js';

export interface Row {
  /** Stable key for scripts comparing runs. */
  id: string;
  figure: string;
  unit: string;
  ours: number | null;
  baseline: number | null;
  /** ours / baseline. */
  ratio: number | null;
  /** Human-readable target, e.g. ">= 0.6x baseline". */
  target: string;
  /** null for figures that are informative only. */
  pass: boolean | null;
  note?: string;
}

/** What each benchmark gets from the runner. */
export interface BenchContext {
  children: ChildSet;
  progress(message: string): void;
  /** Raw measurements, written to the JSON next to the rows. */
  details: Record<string, unknown>;
}

function formatValue(value: number | null, unit: string): string {
  if (value === null || Number.isNaN(value)) return '-';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['figure', 'ours', 'baseline', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [
    r.figure,
    formatValue(r.ours, r.unit),
    formatValue(r.baseline, r.unit),
    r.ratio === null || Number.isNaN(r.ratio) ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target,
    r.pass === null ? 'info' : r.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.figure}: ${r.note}`);
  return [...out, ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}

export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}
