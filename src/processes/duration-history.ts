// Remembers how long commands usually take (keyed by program and subcommand), in a small bounded JSON file.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../logger.js';

const MAX_KEYS = 500;
const SAMPLES_PER_KEY = 20;
const SAVE_DEBOUNCE_MS = 1_000;

/** Words that wrap the real program: `sudo make`, `env FOO=1 npm test`, `time pytest`. */
const WRAPPERS = new Set(['sudo', 'env', 'time', 'nice', 'nohup', 'exec', 'command', 'stdbuf', 'timeout', 'npx']);
/** Subcommands that name a script: `npm run build` is keyed with its script name. */
const RUNNERS = new Set(['run', 'run-script', 'exec', 'x']);
const WORD = /^[A-Za-z0-9][\w.:-]*$/;

/**
 * The key a command's durations are kept under: program and subcommand, not the argument list.
 * `cd app && npm test -- --watch=false` -> "npm test"; `pytest -x tests/` -> "pytest"; `npm run build` -> "npm run build".
 */
export function normaliseCommand(command: string | undefined, argv: string[] | undefined): string | null {
  let words: string[];
  if (argv) words = argv;
  else if (command) {
    // Last segment of a simple `a && b` / `a; b` chain is the one that does the work; pipes keep their first stage.
    const segments = command
      .split(/&&|\|\||;|\n/)
      .map((s) => s.trim())
      .filter(Boolean);
    const main = (segments.filter((s) => !/^(cd|export|source|\.)\s/.test(s)).pop() ?? segments.pop() ?? '').split('|')[0] ?? '';
    words = main.trim().split(/\s+/);
  } else return null;
  let i = 0;
  while (
    i < words.length &&
    (WRAPPERS.has(words[i]!) || /^\w+=/.test(words[i]!) || (i > 0 && words[i]!.startsWith('-') && WRAPPERS.has(words[i - 1]!)))
  )
    i++;
  const program = words[i] ? basename(words[i]!) : '';
  if (!program || !WORD.test(program)) return null;
  const parts = [program];
  const sub = words[i + 1];
  if (sub && WORD.test(sub)) {
    parts.push(sub);
    const script = words[i + 2];
    if (RUNNERS.has(sub) && script && WORD.test(script)) parts.push(script);
  }
  return parts.join(' ');
}

export class DurationHistory {
  private entries = new Map<string, number[]>();
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly logger?: Logger,
  ) {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { entries?: Record<string, unknown> };
      for (const [k, v] of Object.entries(parsed.entries ?? {})) {
        if (Array.isArray(v)) this.entries.set(k, v.filter((n): n is number => typeof n === 'number' && n >= 0).slice(-SAMPLES_PER_KEY));
      }
    } catch {
      // No history yet (or unreadable): start empty.
    }
  }

  /** Median of the recorded durations, or undefined without history. */
  expectedMs(key: string | null): number | undefined {
    const samples = key ? this.entries.get(key) : undefined;
    if (!samples || samples.length === 0) return undefined;
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  record(key: string | null, durationMs: number): void {
    if (!key) return;
    const samples = this.entries.get(key) ?? [];
    this.entries.delete(key); // re-insert: Map order doubles as least-recently-used order
    samples.push(Math.round(durationMs));
    this.entries.set(key, samples.slice(-SAMPLES_PER_KEY));
    while (this.entries.size > MAX_KEYS) this.entries.delete(this.entries.keys().next().value!);
    this.scheduleSave();
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flush(), SAVE_DEBOUNCE_MS);
    this.saveTimer.unref();
  }

  /** Write now (atomically: temp file, then rename). */
  flush(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ version: 1, entries: Object.fromEntries(this.entries) }, null, 2)}\n`);
      renameSync(tmp, this.file);
    } catch (e) {
      this.logger?.warn({ err: (e as Error).message, file: this.file }, 'could not save duration history');
    }
  }
}
