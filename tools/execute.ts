// The `execute` tool: run one command, stream its output as progress, return its result or a running handle.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { EmptyResultSchema, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { MAX_PTY_COLS, MAX_PTY_ROWS } from '../src/backends/backend.js';
import { ServerError, toToolError } from '../src/errors.js';
import type { Execution } from '../src/processes/execution.js';
import { TerminalText } from '../src/processes/terminal-text.js';
import type { Config } from '../src/config.js';
import type { ToolDeps } from './deps.js';
import { ExecuteOutputSchema } from './output-schemas.js';
import { ProgressSink } from './progress-sink.js';
import { executionResult, toCallToolResult } from './results.js';

/** setTimeout's largest delay: Node fires a longer one after 1 ms, so the schema refuses more (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;
/** Terminal size of `pty: true`. */
export const DEFAULT_PTY_SIZE = { cols: 120, rows: 40 } as const;

/**
 * execute's input schema. Its descriptions state this server's configured defaults and caps (a model
 * plans a long job by them), so the shape is built from the config.
 */
export function executeInputShape(config: Pick<Config, 'defaultTimeoutMs' | 'maxTimeoutMs' | 'returnRunningAfterMs'>) {
  const returnAfter =
    config.returnRunningAfterMs > 0
      ? `Without a progress token the call returns a running handle after ${config.returnRunningAfterMs} ms anyway.`
      : '';
  return {
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
      .describe("Text written to the command's stdin, which is then closed (unless interactive). Without it stdin is empty (/dev/null)."),
    interactive: z
      .boolean()
      .optional()
      .describe(
        'Keep stdin open as a pipe: answer prompts with write_stdin. The call returns as soon as the command waits for input ' +
          '(waitingForInput: true, with the prompt).',
      ),
    pty: z
      .union([
        z.boolean(),
        z.object({
          cols: z.number().int().min(1).max(MAX_PTY_COLS).describe('Terminal width in columns'),
          rows: z.number().int().min(1).max(MAX_PTY_ROWS).describe('Terminal height in rows'),
        }),
      ])
      .optional()
      .describe(
        `Run on a pseudo-terminal (true = ${DEFAULT_PTY_SIZE.cols}x${DEFAULT_PTY_SIZE.rows}, or {cols, rows}); implies interactive. ` +
          'For programs that need a terminal (isatty checks, REPLs, top, colour/progress output). stdout and stderr arrive merged as stdout; ' +
          'what you read is rendered as plain text (escapes removed, progress bars at their last state).',
      ),
    returnOnInput: z
      .boolean()
      .optional()
      .describe(
        'Interactive only. Default true: return when the command waits for input. false: keep the call open (a client streaming stdin).',
      ),
    rawOutput: z
      .boolean()
      .optional()
      .describe('PTY only: progress messages carry the raw terminal bytes (escapes included), for clients that emulate a terminal.'),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        `Kill deadline in ms (default ${config.defaultTimeoutMs}; at most ${config.maxTimeoutMs}, larger values are clamped to it). ` +
          'Stretched while the machine is loaded; paused time does not count. For jobs longer than a few minutes use background or waitMs.',
      ),
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
      .describe(
        'Return at once with the execution id; the command keeps running even if this session disconnects. ' +
          'For servers, watchers and long builds. Follow it with `status` (grep searches its output).',
      ),
    sandbox: z
      .union([
        z.boolean(),
        z
          .object({
            network: z
              .enum(['none', 'host'])
              .optional()
              .describe('"none" (loopback only) or "host"; only as tight as the server\'s or tighter.'),
            writableRoots: z
              .array(z.string().min(1))
              .optional()
              .describe("Writable directories (relative to cwd), each inside one of the server's; [] = nothing but a private /tmp."),
          })
          .strict(),
      ])
      .optional()
      .describe(
        "Run inside the bubblewrap sandbox (where the server offers one): true, or settings that only tighten the server's. " +
          'The host is read-only except the writable roots (default: cwd) and a private /tmp; credentials are hidden; no network by default.',
      ),
    waitMs: z
      .number()
      .int()
      .min(0)
      .max(MAX_TIMER_MS)
      .optional()
      .describe(
        'Return a running handle if the command has not finished after this many ms (at most 2147483647); it keeps running ' +
          '(follow with `status`, stop with `control`). Good for jobs that may take long: you get the result if it is quick. ' +
          returnAfter,
      ),
  };
}

/** The request fields the engine takes: anything else sent (the input is loose) stays out of the request. */
const EXECUTE_KEYS: readonly string[] = Object.keys(executeInputShape({ defaultTimeoutMs: 1, maxTimeoutMs: 1, returnRunningAfterMs: 0 }));

/** `detach` is the old name of `background`: not in the schema any more, still honoured when sent. */
type ExecuteInput = z.infer<z.ZodObject<ReturnType<typeof executeInputShape>>> & { detach?: unknown };

/** `_meta`: the tool's metadata, e.g. the MCP App hosts render its results in (tools/terminal-app.ts). */
export function registerExecuteTool(server: McpServer, deps: ToolDeps, options: { _meta?: Record<string, unknown> } = {}): void {
  const config = deps.config;
  server.registerTool(
    'execute',
    {
      title: 'Execute a command',
      description:
        'Run a shell command (or an argv) in its own process group. Output streams as progress notifications while it runs ' +
        '(stdout and stderr apart); the result has the exit code, signal, and head/tail of each stream (cut at line boundaries; ' +
        '`status` greps or reads the full output). ' +
        `Deadline: ${config.defaultTimeoutMs} ms unless timeoutMs says otherwise (at most ${config.maxTimeoutMs} ms). ` +
        'For long jobs (builds, test suites, servers) pass background: true, or waitMs to get a running handle if it takes longer; ' +
        'then `status` to follow and `control` to pause, resume, cancel or signal.',
      // Loose: unknown keys pass through parsing, so the retired `detach` still reaches the handler.
      inputSchema: z.object(executeInputShape(config)).loose(),
      outputSchema: ExecuteOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
      ...(options._meta ? { _meta: options._meta } : {}),
    },
    async (parsed, extra) => {
      const input = parsed as ExecuteInput;
      if (input.detach !== undefined && typeof input.detach !== 'boolean')
        return toToolError(new ServerError('INVALID_INPUT', '`detach` (the old name of `background`) must be a boolean'));
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
  const { waitMs: _waitMs, detach, returnOnInput: _returnOnInput, rawOutput: _rawOutput, pty, ...rest } = input;
  if (detach === true) rest.background = true;
  const request = Object.fromEntries(Object.entries(rest).filter(([k, v]) => v !== undefined && EXECUTE_KEYS.includes(k))) as Omit<
    ExecuteInput,
    'waitMs' | 'detach' | 'returnOnInput' | 'rawOutput' | 'pty'
  >;
  const size = pty === true ? { ...DEFAULT_PTY_SIZE } : pty === false || pty === undefined ? undefined : pty;
  return size === undefined ? request : { ...request, pty: size };
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

async function follow(execution: Execution, input: ExecuteInput, extra: Extra, deps: ToolDeps) {
  if (input.background || input.detach === true) return toCallToolResult(executionResult(execution));

  const token = extra._meta?.progressToken;
  const pty = execution.snapshot().pty;
  const sendFrame = deps.session.sendFrame;
  const sink =
    token === undefined
      ? undefined
      : new ProgressSink({
          executionId: execution.id,
          progressToken: token,
          send: extra.sendNotification,
          // Ready frames where the transport takes them; like the SDK's sendNotification, nothing after a cancel.
          ...(sendFrame
            ? { sendFrame: (frame: Buffer) => (extra.signal.aborted ? Promise.resolve() : sendFrame(frame, extra.requestId)) }
            : {}),
          flow: deps.session.flow,
          coalesceMs: deps.config.progressCoalesceMs,
          chunkBytes: deps.config.progressChunkBytes,
          heartbeatMs: deps.config.progressHeartbeatMs,
          startedAt: execution.startedAt.getTime(),
          ...(execution.expectedMs !== undefined ? { expectedMs: execution.expectedMs } : {}),
          confirm: () => extra.sendRequest({ method: 'ping' }, EmptyResultSchema, { timeout: 1_000 }),
          ...(deps.frameEscaper ? { escaper: deps.frameEscaper } : {}),
          // What a model reads of a terminal is its rendered text; a terminal client asks for the bytes.
          ...(pty && input.rawOutput !== true ? { render: new TerminalText({ maxHeldLines: pty.rows - 1 }) } : {}),
        });
  // An interactive client needs the id before the first output (a silent `cat` waits for its input).
  if (execution.interactive) sink?.notice('started', `execution ${execution.id} started`);
  sink?.attach(execution.log);
  const stopNotices = execution.onWaitingForInput((waiting) => {
    if (waiting) sink?.notice('input', `[waiting for input] ${execution.log.lastLine()}`, { 'cc-executor/waitingForInput': true });
  });

  // MCP cancellation (notifications/cancelled) cancels the command. A closed transport aborts too,
  // but the session registry has already terminated it with reason 'disconnect', which wins.
  const onAbort = () => void execution.terminate('cancel');
  extra.signal.addEventListener('abort', onAbort, { once: true });
  // Cancelled while it was starting (preExecute hooks take time): the listener above would never fire.
  if (extra.signal.aborted) onAbort();

  // A client without a progress token gets nothing until the result and gives up at 60 s (the SDK's
  // default), cancelling the command: such a call returns a running handle before that.
  const limit = deps.config.returnRunningAfterMs;
  const waitMs = input.waitMs ?? (token === undefined && limit > 0 ? limit : undefined);
  const returnOnInput = execution.interactive && input.returnOnInput !== false;
  let waitTimer: NodeJS.Timeout | undefined;
  const ends: Array<Promise<unknown>> = [execution.done];
  if (waitMs !== undefined) ends.push(new Promise<void>((r) => (waitTimer = setTimeout(r, waitMs))));
  if (returnOnInput) ends.push(execution.whenWaitingForInput());
  try {
    await Promise.race(ends);
  } finally {
    clearTimeout(waitTimer);
    stopNotices();
    extra.signal.removeEventListener('abort', onAbort);
    await sink?.close();
  }
  // A result that says the run finished comes after its final record is written (issue 18.9: "with records
  // written"): a client that reads the record, or a status call from another session, sees what it was told.
  // With postExecute hooks the record is final only after them, and they run after the result (hooks/).
  if (execution.state === 'exited') await deps.records.settled(execution.id);
  return toCallToolResult(executionResult(execution));
}
