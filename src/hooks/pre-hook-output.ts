// What a preExecute hook may print on stdout: a change object, validated and applied to the request, with what it changed.
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { HookProcessResult } from './hook-process.js';
import type { HookRun } from './hook-run.js';

/** Largest JSON a preExecute hook may print on stdout. */
export const PRE_HOOK_MAX_STDOUT_BYTES = 1024 * 1024;

/** The fields of an execution a preExecute hook may change. */
export interface HookChanges {
  command?: string;
  argv?: string[];
  cwd?: string;
  /** A null value removes the variable from the command's environment. */
  env?: Record<string, string | null>;
  timeoutMs?: number;
}

/** What preExecute hooks see, in order, each after the changes of the ones before. */
export interface PreHookRequest {
  executionId: string;
  sessionId: string;
  command?: string;
  argv?: string[];
  cwd: string;
  env: Record<string, string | null>;
  timeoutMs: number;
}

const noNul = (s: string) => !s.includes('\0');
const envName = z.string().refine((k) => k !== '' && !k.includes('=') && noNul(k), 'invalid environment variable name');

const HookOutputSchema = z
  .object({
    command: z.string().refine((s) => s.trim() !== '' && noNul(s), 'command must be a non-empty string without NUL bytes'),
    argv: z
      .array(z.string().refine(noNul, 'argv strings cannot contain NUL bytes'))
      .min(1)
      .refine((a) => a[0] !== '', 'argv[0] is empty'),
    cwd: z.string().min(1),
    env: z.record(envName, z.string().refine(noNul, 'env values cannot contain NUL bytes').nullable()),
    timeoutMs: z.number().int().positive(),
  })
  .partial()
  .strict()
  .refine((o) => o.command === undefined || o.argv === undefined, 'give at most one of command or argv');

/**
 * Parse a preExecute hook's stdout and apply it to `current` (deadlines clamped to `maxTimeoutMs`).
 * Returns the failure reason as a string when the output is unusable.
 */
export function applyPreHookOutput(
  current: PreHookRequest,
  proc: HookProcessResult,
  maxTimeoutMs: number,
): string | { next: PreHookRequest; changes: HookRun['changes'] } {
  if (proc.stdout.truncated) return `stdout is over ${PRE_HOOK_MAX_STDOUT_BYTES} bytes (${proc.stdout.bytes})`;
  const text = proc.stdout.text().trim();
  if (text === '') return { next: current, changes: null };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return `stdout is not valid JSON: ${(e as Error).message}`;
  }
  const parsed = HookOutputSchema.safeParse(json);
  if (!parsed.success) {
    return `stdout is not a valid change object: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
  }
  const out = parsed.data;
  const next: PreHookRequest = { ...current, env: { ...current.env } };
  if (out.command !== undefined) {
    next.command = out.command;
    delete next.argv;
  }
  if (out.argv !== undefined) {
    next.argv = out.argv;
    delete next.command;
  }
  if (out.cwd !== undefined) {
    next.cwd = isAbsolute(out.cwd) ? out.cwd : resolve(current.cwd, out.cwd);
    if (!isDirectory(next.cwd)) return `cwd ${next.cwd} is not a directory`;
  }
  if (out.env !== undefined) Object.assign(next.env, out.env);
  if (out.timeoutMs !== undefined) next.timeoutMs = Math.min(out.timeoutMs, maxTimeoutMs);

  const before: HookChanges = {};
  const after: HookChanges = {};
  const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  if (differs(current.command, next.command) || differs(current.argv, next.argv)) {
    Object.assign(before, current.command !== undefined ? { command: current.command } : { argv: current.argv });
    Object.assign(after, next.command !== undefined ? { command: next.command } : { argv: next.argv });
  }
  for (const key of ['cwd', 'env', 'timeoutMs'] as const) {
    if (!differs(current[key], next[key])) continue;
    Object.assign(before, { [key]: current[key] });
    Object.assign(after, { [key]: next[key] });
  }
  return { next, changes: Object.keys(after).length > 0 ? { before, after } : null };
}

/** True when `path` is an existing directory (a hook's cwd must be one). */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
