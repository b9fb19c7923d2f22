// The `control` tool: pause, resume, cancel, kill or signal an execution's whole process group.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { constants } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { ServerError, toToolError } from '../src/errors.js';
import type { Execution } from '../src/processes/execution.js';
import { MIN_ID_PREFIX_CHARS } from '../src/processes/id-lookup.js';
import type { ToolDeps } from './deps.js';
import { executionResult, toCallToolResult } from './results.js';

export const CONTROL_ACTIONS = ['pause', 'resume', 'cancel', 'kill', 'signal'] as const;

export const ControlInputShape = {
  id: z.string().min(1).describe(`Execution id (or a unique prefix of at least ${MIN_ID_PREFIX_CHARS} characters).`),
  action: z
    .enum(CONTROL_ACTIONS)
    .describe(
      'pause = SIGSTOP to the group; resume = SIGCONT; cancel = SIGTERM, then SIGKILL after graceMs; kill = SIGKILL now; signal = the named `signal`.',
    ),
  signal: z
    .string()
    .optional()
    .describe('Signal name for action "signal", e.g. "SIGINT", "SIGHUP", "SIGUSR1" (or without the SIG prefix).'),
  graceMs: z.number().int().min(0).max(600_000).optional().describe('For cancel: ms between SIGTERM and SIGKILL (default 5000).'),
};

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
        'grandchildren included, even after the leader exited. Returns the new state.',
      inputSchema: ControlInputShape,
      annotations: { destructiveHint: true },
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

async function settle(execution: Execution, ms: number): Promise<void> {
  await Promise.race([execution.done, delay(ms)]);
}

async function act(
  execution: Execution,
  action: (typeof CONTROL_ACTIONS)[number],
  input: { signal?: string | undefined; graceMs?: number | undefined },
  defaultGraceMs: number,
): Promise<void> {
  switch (action) {
    case 'pause':
      return execution.pause();
    case 'resume':
      return execution.resume();
    case 'cancel': {
      if (execution.state === 'exited')
        throw new ServerError('INVALID_STATE', `execution ${execution.id} has already exited`, { state: 'exited' });
      const grace = input.graceMs ?? defaultGraceMs;
      void execution.terminate('cancel', grace);
      return settle(execution, grace + SETTLE_EXTRA_MS);
    }
    case 'kill':
      if (execution.state === 'exited' && !execution.hasLiveProcesses()) {
        throw new ServerError('INVALID_STATE', `execution ${execution.id} has already exited`, { state: 'exited' });
      }
      void execution.terminate('kill', 0);
      return settle(execution, SETTLE_EXTRA_MS);
    case 'signal': {
      const sig = parseSignal(input.signal);
      execution.sendSignal(sig);
      // Give a terminating signal a moment to take effect so the answer shows it.
      return settle(execution, 100);
    }
  }
}
