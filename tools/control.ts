// The `control` tool: pause, resume, cancel, kill or signal an execution's whole process group.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { constants } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { MAX_PTY_COLS, MAX_PTY_ROWS } from '../src/backends/backend.js';
import { ServerError, toToolError } from '../src/errors.js';
import type { Execution } from '../src/processes/execution.js';
import { MIN_ID_PREFIX_CHARS } from '../src/processes/id-lookup.js';
import type { ToolDeps } from './deps.js';
import { ControlOutputSchema } from './output-schemas.js';
import { executionResult, toCallToolResult } from './results.js';

export const CONTROL_ACTIONS = ['pause', 'resume', 'cancel', 'kill', 'signal', 'resize'] as const;

/** control's input schema; descriptions carry this server's configured grace period. */
export function controlInputShape(config: { graceMs: number }) {
  return {
    id: z.string().min(1).describe(`Execution id (or a unique prefix of at least ${MIN_ID_PREFIX_CHARS} characters).`),
    action: z
      .enum(CONTROL_ACTIONS)
      .describe(
        'pause = freeze everything it started (cgroup freeze, or SIGSTOP to the group); resume = undo; cancel = SIGTERM, then SIGKILL after graceMs; kill = SIGKILL now (both also release members left behind by an exited leader, and answer once everything is gone); signal = the named `signal`; ' +
          'resize = new terminal size `cols` x `rows` (pty executions).',
      ),
    signal: z
      .string()
      .optional()
      .describe('Signal name for action "signal", e.g. "SIGINT", "SIGHUP", "SIGUSR1" (or without the SIG prefix).'),
    graceMs: z
      .number()
      .int()
      .min(0)
      .max(600_000)
      .optional()
      .describe(`For cancel: ms between SIGTERM and SIGKILL (default ${config.graceMs}).`),
    cols: z.number().int().min(1).max(MAX_PTY_COLS).optional().describe('For resize (pty executions): terminal width in columns.'),
    rows: z.number().int().min(1).max(MAX_PTY_ROWS).optional().describe('For resize (pty executions): terminal height in rows.'),
  };
}

/** How long `control` waits for the group to die before answering with the state so far. */
const SETTLE_EXTRA_MS = 2_000;

export function parseSignal(name: string | undefined): NodeJS.Signals {
  if (!name) throw new ServerError('INVALID_INPUT', 'action "signal" needs `signal`, e.g. "SIGINT"');
  const upper = name.toUpperCase();
  const full = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (!(full in constants.signals)) throw new ServerError('INVALID_INPUT', `unknown signal ${JSON.stringify(name)}`);
  return full;
}

export function registerControlTool(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'control',
    {
      title: 'Control an execution',
      description:
        'Pause, resume, cancel, kill or signal a running execution. Every action reaches the whole process group, ' +
        'grandchildren included, even after the leader exited. Returns the new state. ' +
        `cancel ends it gracefully (SIGTERM, SIGKILL after ${deps.config.graceMs} ms); kill is immediate.`,
      inputSchema: controlInputShape(deps.config),
      outputSchema: ControlOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    async (input) => {
      try {
        const execution = deps.findLive(input.id);
        await act(execution, input.action, input, deps.config.graceMs);
        return toCallToolResult(executionResult(execution), { action: input.action });
      } catch (e) {
        return toToolError(e);
      }
    },
  );
}

async function settleOn(work: Promise<void>, ms: number): Promise<void> {
  await Promise.race([work, delay(ms)]);
}

async function settle(execution: Execution, ms: number): Promise<void> {
  await Promise.race([execution.done, delay(ms)]);
}

async function act(
  execution: Execution,
  action: (typeof CONTROL_ACTIONS)[number],
  input: { signal?: string | undefined; graceMs?: number | undefined; cols?: number | undefined; rows?: number | undefined },
  defaultGraceMs: number,
): Promise<void> {
  switch (action) {
    case 'pause':
      return execution.pause();
    case 'resume':
      return execution.resume();
    case 'cancel': {
      // An exited execution whose leader left members behind is cancelled too: that releases them.
      if (execution.state === 'exited' && !execution.hasLiveProcesses())
        throw new ServerError('INVALID_STATE', `execution ${execution.id} has already exited`, { state: 'exited' });
      const grace = input.graceMs ?? defaultGraceMs;
      // Answer once everything it started is gone (TERM-ignoring members included); the answer's
      // lingeringMembers says honestly what is still alive if that takes longer than grace + slack.
      return settleOn(execution.terminate('cancel', grace), grace + SETTLE_EXTRA_MS);
    }
    case 'kill':
      if (execution.state === 'exited' && !execution.hasLiveProcesses()) {
        throw new ServerError('INVALID_STATE', `execution ${execution.id} has already exited`, { state: 'exited' });
      }
      return settleOn(execution.terminate('kill', 0), SETTLE_EXTRA_MS);
    case 'signal': {
      const sig = parseSignal(input.signal);
      execution.sendSignal(sig);
      // Give a terminating signal a moment to take effect so the answer shows it.
      return settle(execution, 100);
    }
    case 'resize':
      if (input.cols === undefined || input.rows === undefined)
        throw new ServerError('INVALID_INPUT', 'action "resize" needs `cols` and `rows`');
      return execution.resize({ cols: input.cols, rows: input.rows });
  }
}
