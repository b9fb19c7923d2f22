// The plan step of an execution: validation, command policy, preExecute hooks and history, up to a Launch.
import { randomUUID } from 'node:crypto';
import type { ExecutionBackend, Launch, LaunchPlan, PtySize, ResourceLimits, SandboxSpec } from '../backends/backend.js';
import type { SandboxRequest } from '../policy/sandbox-policy.js';
import type { Config } from '../config.js';
import { ServerError } from '../errors.js';
import type { HookRun } from '../hooks/hook-run.js';
import type { HookRunner } from '../hooks/hook-runner.js';
import type { PreHookRequest } from '../hooks/pre-hook-output.js';
import type { CommandPolicy } from '../policy/command-policy.js';
import { normaliseCommand, type DurationHistory } from './duration-history.js';

export interface ExecuteRequest {
  sessionId: string;
  /** Which transport the request came through (for the record). */
  transport?: string;
  command?: string;
  argv?: string[];
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
  /** Keep stdin open for write_stdin (after `stdin` text, if any). */
  interactive?: boolean;
  /** Run on a pseudo-terminal of this size (implies interactive). */
  pty?: PtySize;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  background?: boolean;
  /** Run inside the sandbox (`true`), outside it (`false`, refused when the server says "always"), or tighter. */
  sandbox?: SandboxRequest;
  /** Resource limits for this run; they may only tighten the server's (cgroup containment only). */
  limits?: ResourceLimits;
  /** The caller gave up (request cancelled, session closed): preExecute hooks stop and nothing is spawned. */
  signal?: AbortSignal;
}

/** Everything decided before anything runs: what the backend spawns and the facts the execution keeps. */
export interface ExecutionPlan {
  id: string;
  /** As the hooks left it: exactly one of command / argv. */
  command?: string;
  argv?: string[];
  /** Resolved by the backend, with the executable and directory the policy vouched for. */
  launch: Launch;
  timeoutMs: number;
  /** True when the request asked for more than maxTimeoutMs and got less. */
  timeoutClamped: boolean;
  /** False when the deadline is the server default (only then does history judge the run). */
  timeoutRequested: boolean;
  historyKey: string | null;
  expectedMs: number | undefined;
  hookRuns: HookRun[] | undefined;
  hookWarnings: string[] | undefined;
}

/** What the plan step needs from the engine. */
export interface PlanContext {
  config: Pick<Config, 'defaultTimeoutMs' | 'maxTimeoutMs'>;
  backend: ExecutionBackend;
  policy: CommandPolicy;
  hooks?: HookRunner | undefined;
  history?: DurationHistory | undefined;
  /**
   * Refuses the request when the server cannot take it now (SHUTTING_DOWN, LIMIT_REACHED). Asked before the
   * policy and again after the hooks, which take time.
   */
  admit(sessionId: string): void;
  /** The sandbox a request runs in starting in `cwd` (null: none); throws INVALID_INPUT / FORBIDDEN. */
  sandbox?(req: ExecuteRequest, cwd: string): SandboxSpec | null;
}

/** Shape checks of a request, before anything touches the machine. Pure; throws ServerError INVALID_INPUT. */
export function validateRequest(req: Pick<ExecuteRequest, 'command' | 'argv'>): void {
  const hasCommand = req.command !== undefined;
  const hasArgv = req.argv !== undefined;
  if (hasCommand === hasArgv) {
    throw new ServerError('INVALID_INPUT', 'give exactly one of `command` (a shell string) or `argv` (an array run without a shell)');
  }
  if (hasCommand && req.command!.trim() === '') throw new ServerError('INVALID_INPUT', '`command` is empty');
  if (hasArgv && (req.argv!.length === 0 || req.argv![0] === ''))
    throw new ServerError('INVALID_INPUT', '`argv` needs at least a program name');
  for (const s of [req.command, ...(req.argv ?? [])]) {
    if (s?.includes('\0')) throw new ServerError('INVALID_INPUT', 'command strings cannot contain NUL bytes');
  }
}

/** The machine-independent plan for the backend: what to run (as the request or the hooks left it), where, with which variables. */
export function launchPlanOf(
  id: string,
  what: { command?: string; argv?: string[]; cwd?: string; env?: Record<string, string | null> },
  stdin: string | undefined,
  terminal: { interactive?: boolean; pty?: PtySize } = {},
  limits?: ResourceLimits,
): LaunchPlan {
  return {
    id,
    ...(what.command !== undefined ? { command: what.command } : { argv: what.argv! }),
    ...(what.cwd !== undefined ? { cwd: what.cwd } : {}),
    env: { ...what.env },
    ...(stdin !== undefined ? { stdin } : {}),
    ...(limits ? { limits } : {}),
    ...(terminal.interactive === true || terminal.pty !== undefined ? { interactive: true } : {}),
    ...(terminal.pty !== undefined ? { pty: terminal.pty } : {}),
  };
}

/**
 * Validate, resolve on the backend, check the policy, run the preExecute hooks (which may change the request),
 * check again, and return the launch with what the policy vouched for. Spawns nothing (hooks aside).
 */
export async function planExecution(req: ExecuteRequest, ctx: PlanContext): Promise<ExecutionPlan> {
  validateRequest(req);
  // The id exists before the preExecute hooks run: they receive it.
  const id = randomUUID();
  // The backend resolves cwd and environment on its machine (INVALID_CWD, INVALID_INPUT) before anything else.
  let launch = ctx.backend.prepare(launchPlanOf(id, req, req.stdin, req, req.limits));
  ctx.admit(req.sessionId);
  // Refused before any hook runs; counts towards the per-minute rate.
  let allowed = ctx.policy.check(req, launch.cwd);
  // Refused before any hook runs (and decided again below, for the directory that finally runs).
  let sandbox = ctx.sandbox?.(req, allowed.cwd) ?? null;

  let requested = req.timeoutMs ?? ctx.config.defaultTimeoutMs;
  // History learns the command as requested: hook rewrites (a venv prefix) would blur its key.
  const historyKey = normaliseCommand(req.command, req.argv);
  let timeoutRequested = req.timeoutMs !== undefined;
  let request: PreHookRequest = {
    executionId: id,
    sessionId: req.sessionId,
    ...(req.command !== undefined ? { command: req.command } : { argv: req.argv! }),
    cwd: launch.cwd,
    env: { ...req.env },
    timeoutMs: Math.min(requested, ctx.config.maxTimeoutMs),
  };
  const pre = ctx.hooks?.hasPre ? await ctx.hooks.runPre(request, req.signal) : undefined;
  if (pre) {
    // Hooks take time: the world may have changed meanwhile.
    ctx.admit(req.sessionId);
    if (req.signal?.aborted) throw new ServerError('INVALID_STATE', 'the request was cancelled before the command started');
    if (pre.request.timeoutMs !== request.timeoutMs) {
      requested = pre.request.timeoutMs;
      timeoutRequested = true;
    }
    request = pre.request;
    launch = ctx.backend.prepare(launchPlanOf(id, request, req.stdin, req, req.limits));
    // Hooks are configuration, but what finally runs must still obey the policy.
    allowed = ctx.policy.check({ ...request, sessionId: req.sessionId }, launch.cwd, { countRate: false });
    sandbox = ctx.sandbox?.(req, allowed.cwd) ?? null;
  }
  const timeoutMs = Math.min(requested, ctx.config.maxTimeoutMs);
  const shellMode = request.command !== undefined;
  return {
    id,
    ...(shellMode ? { command: request.command! } : { argv: request.argv! }),
    // What the policy vouched for runs: the checked executable path and the checked (real) directory.
    launch: { ...launch, plan: { ...launch.plan, sandbox }, cwd: allowed.cwd, ...(shellMode ? {} : { file: allowed.file! }) },
    timeoutMs,
    timeoutClamped: requested > timeoutMs,
    timeoutRequested,
    historyKey,
    expectedMs: ctx.history?.expectedMs(historyKey),
    hookRuns: pre?.runs,
    hookWarnings: pre?.warnings,
  };
}
