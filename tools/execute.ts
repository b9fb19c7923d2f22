// The `execute` tool: run one command, stream its output as progress, return its result or a running handle.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { EmptyResultSchema, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { toToolError } from '../src/errors.js';
import type { Execution } from '../src/processes/execution.js';
import type { ToolDeps } from './deps.js';
import { ProgressSink } from './progress-sink.js';
import { executionResult, toCallToolResult } from './results.js';

/** setTimeout's largest delay: Node fires a longer one after 1 ms, so the schema refuses more (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

export const ExecuteInputShape = {
  command: z.string().optional().describe('Shell command line, run by /bin/bash -c (or /bin/sh). Give this or `argv`, not both.'),
  argv: z
    .array(z.string())
    .optional()
    .describe('Program and arguments, run directly without a shell (no quoting issues). Give this or `command`.'),
  cwd: z.string().optional().describe("Working directory (absolute, or relative to the server's). Default: the server's."),
  env: z.record(z.string(), z.string()).optional().describe("Environment variables set on top of the server's environment."),
  stdin: z
    .string()
    .optional()
    .describe("Text written to the command's stdin, which is then closed. Without it stdin is empty (/dev/null)."),
  timeoutMs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Kill deadline in ms (default 600000). Stretched while the machine is loaded; paused time does not count.'),
  idleTimeoutMs: z
    .number()
    .int()
    .positive()
    .max(MAX_TIMER_MS)
    .optional()
    .describe('Terminate the command when it prints nothing for this long (ms, at most 2147483647).'),
  limits: z
    .object({
      memoryMaxBytes: z.number().int().positive().optional().describe('Memory limit in bytes (cgroup memory.max): a hog is OOM-killed.'),
      pidsMax: z.number().int().positive().optional().describe('Most processes alive at once (cgroup pids.max): further forks fail.'),
      cpuMax: z
        .string()
        .regex(/^\d+ \d+$/, 'expected "<quota_us> <period_us>"')
        .optional()
        .describe('CPU bandwidth "<quota_us> <period_us>" (cgroup cpu.max), e.g. "50000 100000" = half a CPU.'),
    })
    .strict()
    .optional()
    .describe(
      "Resource limits for this run, tighter than the server's only. Needs cgroup containment with the controller enabled; otherwise INVALID_INPUT says why.",
    ),
  background: z
    .boolean()
    .optional()
    .describe('Return at once with the execution id; the command keeps running even if this session disconnects. Follow it with `status`.'),
  detach: z.boolean().optional().describe('Same as `background`.'),
  sandbox: z
    .union([
      z.boolean(),
      z
        .object({
          network: z.enum(['none', 'host']).optional().describe('"none" (loopback only) or "host"; only as tight as the server\'s or tighter.'),
          writableRoots: z
            .array(z.string().min(1))
            .optional()
            .describe("Writable directories (relative to cwd), each inside one of the server's; [] = nothing but a private /tmp."),
        })
        .strict(),
    ])
    .optional()
    .describe(
      'Run inside the bubblewrap sandbox (where the server offers one): true, or settings that only tighten the server\'s. ' +
        'The host is read-only except the writable roots (default: cwd) and a private /tmp; credentials are hidden; no network by default.',
    ),
  waitMs: z
    .number()
    .int()
    .min(0)
    .max(MAX_TIMER_MS)
    .optional()
    .describe('Return a running handle if the command has not finished after this many ms (at most 2147483647); it keeps running (follow with `status`).'),
};

type ExecuteInput = z.infer<z.ZodObject<typeof ExecuteInputShape>>;

export function registerExecuteTool(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'execute',
    {
      title: 'Execute a command',
      description:
        'Run a shell command (or an argv) in its own process group. Output streams as progress notifications while it runs ' +
        '(stdout and stderr apart); the result has the exit code, signal, and head/tail of each stream. ' +
        'Use background or waitMs for long jobs, then `status` to follow and `control` to pause, resume, cancel or signal.',
      inputSchema: ExecuteInputShape,
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    async (input, extra) => {
      let execution: Execution;
      try {
        execution = await deps.executions.start({
          sessionId: deps.session.id,
          transport: deps.session.transport,
          ...stripUndefined(input),
          signal: extra.signal,
        });
      } catch (e) {
        return toToolError(e);
      }
      return await follow(execution, input, extra, deps);
    },
  );
}

function stripUndefined(input: ExecuteInput) {
  const { waitMs: _waitMs, detach, ...rest } = input;
  if (detach !== undefined) rest.background = (rest.background ?? false) || detach;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Omit<ExecuteInput, 'waitMs' | 'detach'>;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

async function follow(execution: Execution, input: ExecuteInput, extra: Extra, deps: ToolDeps) {
  if (input.background || input.detach) return toCallToolResult(executionResult(execution));

  const token = extra._meta?.progressToken;
  const sink =
    token === undefined
      ? undefined
      : new ProgressSink({
          executionId: execution.id,
          progressToken: token,
          send: extra.sendNotification,
          flow: deps.session.flow,
          coalesceMs: deps.config.progressCoalesceMs,
          chunkBytes: deps.config.progressChunkBytes,
          heartbeatMs: deps.config.progressHeartbeatMs,
          startedAt: execution.startedAt.getTime(),
          ...(execution.expectedMs !== undefined ? { expectedMs: execution.expectedMs } : {}),
          confirm: () => extra.sendRequest({ method: 'ping' }, EmptyResultSchema, { timeout: 1_000 }),
        });
  sink?.attach(execution.log);

  // MCP cancellation (notifications/cancelled) cancels the command. A closed transport aborts too,
  // but the session registry has already terminated it with reason 'disconnect', which wins.
  const onAbort = () => void execution.terminate('cancel');
  extra.signal.addEventListener('abort', onAbort, { once: true });
  // Cancelled while it was starting (preExecute hooks take time): the listener above would never fire.
  if (extra.signal.aborted) onAbort();

  let waitTimer: NodeJS.Timeout | undefined;
  const waited =
    input.waitMs === undefined
      ? execution.done
      : Promise.race([execution.done, new Promise<void>((r) => (waitTimer = setTimeout(r, input.waitMs)))]);
  try {
    await waited;
  } finally {
    clearTimeout(waitTimer);
    extra.signal.removeEventListener('abort', onAbort);
    await sink?.close();
  }
  return toCallToolResult(executionResult(execution));
}
