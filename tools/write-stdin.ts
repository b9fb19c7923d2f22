// The `write_stdin` tool: one turn of a conversation with an interactive command (write, wait, read what it said).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ServerError, toToolError } from '../src/errors.js';
import type { Execution } from '../src/processes/execution.js';
import { renderTerminalText } from '../src/processes/terminal-text.js';
import type { ToolDeps } from './deps.js';
import { WriteStdinOutputSchema } from './output-schemas.js';
import { describeOutcome, executionResult, nextStep } from './results.js';

/** Largest `data` per call: input is typed text, not a file upload (use stdin or a file for bulk data). */
export const MAX_WRITE_CHARS = 1 << 20;
/** A write gets at least this long to be taken (or refused) even with waitMs 0, so its errors are this call's. */
const MIN_WRITE_WAIT_MS = 50;
/** Output returned inline per call; the rest stays readable with status. */
const MAX_REPLY_BYTES = 256 * 1024;

/** write_stdin's input schema; descriptions carry this server's configured waits. */
export function writeStdinInputShape(config: { writeStdinWaitMs: number; maxWriteStdinWaitMs: number }) {
  return {
    id: z.string().min(1).describe('Execution id (or unique prefix) of an interactive or pty execution.'),
    data: z
      .string()
      .max(MAX_WRITE_CHARS)
      .optional()
      .describe(
        'Text to write to its stdin; end a line with "\\n". On a pty, control characters act as keys: "\\u0003" Ctrl-C, "\\u0004" Ctrl-D, ' +
          '"\\u001b" Escape, "\\r" Enter.',
      ),
    eof: z.boolean().optional().describe('Close stdin after the data (end of input). On a pty this sends Ctrl-D.'),
    waitMs: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        `Wait up to this long (default ${config.writeStdinWaitMs}, at most ${config.maxWriteStdinWaitMs}) for the command to exit ` +
          'or wait for input again; returns earlier when it does. For longer runs follow with status.',
      ),
  };
}

export function registerWriteStdinTool(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'write_stdin',
    {
      title: 'Write to an interactive command',
      description:
        'Send input to a running interactive (or pty) execution, then wait briefly and return what it printed since, with its state: ' +
        'waitingForInput (it asks for more), running, or exited with its exit code. One call = one turn with a prompt or REPL.',
      inputSchema: writeStdinInputShape(deps.config),
      outputSchema: WriteStdinOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    async (input) => {
      try {
        const execution = deps.executions.find(input.id);
        const data = input.data ?? '';
        if (data === '' && input.eof !== true && input.waitMs === undefined) {
          throw new ServerError('INVALID_INPUT', 'give `data`, `eof: true`, or `waitMs` (to only wait for more output)');
        }
        const maxWait = deps.config.maxWriteStdinWaitMs;
        if (input.waitMs !== undefined && input.waitMs > maxWait) {
          throw new ServerError('INVALID_INPUT', `waitMs is at most ${maxWait} (maxWriteStdinWaitMs); follow longer runs with status`, {
            limit: 'maxWriteStdinWaitMs',
          });
        }
        const before = execution.log.seq;
        const waitMs = input.waitMs ?? deps.config.writeStdinWaitMs;
        const deadline = Date.now() + waitMs;
        if (data !== '' || input.eof === true) {
          // A command that does not read its stdin leaves a big write pending (the pipe is full): the call
          // still returns within its wait, and the rest stays queued in order (input.pending says how much).
          const writing = execution.writeInput(data, input.eof === true);
          writing.catch(() => undefined); // it failing after this call returned (the command exited) is not this call's error
          await within(writing, Math.max(MIN_WRITE_WAIT_MS, waitMs));
        } else if (!execution.interactive) await execution.writeInput('', false); // the same INVALID_STATE as a write
        await settle(execution, deadline - Date.now());
        return reply(execution, before, deps);
      } catch (e) {
        return toToolError(e);
      }
    },
  );
}

/** Resolves when `work` does or after `ms`, whichever first; rejects when `work` rejects first. */
async function within(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Until it exits, waits for input again, or waitMs passes. Every listener goes when the call ends: a client typing
 * key by key (the console, the CLI's -t) makes thousands of calls to one long-lived execution.
 */
async function settle(execution: Execution, waitMs: number): Promise<void> {
  if (waitMs <= 0 || execution.state === 'exited' || execution.waitingForInput) return;
  let timer: NodeJS.Timeout | undefined;
  let stopListening = () => undefined as void;
  const waiting = new Promise<void>((resolve) => {
    stopListening = execution.onWaitingForInput((now) => {
      if (now) resolve();
    });
  });
  try {
    await Promise.race([execution.done, waiting, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
  } finally {
    clearTimeout(timer);
    stopListening();
  }
}

/**
 * The execution's state (as execute and status give it) plus `output`: what it printed since the write,
 * rendered for a terminal. The text shows only that new output, then what to call next.
 */
async function reply(execution: Execution, sinceSeq: number, deps: ToolDeps): Promise<CallToolResult> {
  const result = executionResult(execution);
  const read = await deps.readOutput({ id: execution.id, execution }, sinceSeq, MAX_REPLY_BYTES);
  const joined = (stream: 'stdout' | 'stderr') =>
    read.chunks
      .filter((c) => c.stream === stream)
      .map((c) => c.data)
      .join('');
  const stdout = result.pty ? renderTerminalText(joined('stdout'), { maxHeldLines: result.pty.rows - 1 }) : joined('stdout');
  const stderr = joined('stderr');
  const parts = [describeOutcome(result)];
  if (stdout) parts.push(`--- stdout since the write ---\n${stdout}`);
  if (stderr) parts.push(`--- stderr since the write ---\n${stderr}`);
  if (!stdout && !stderr) parts.push('(no output since the write)');
  if (read.more) parts.push(`(more output: status {"id": ${JSON.stringify(result.id)}, "sinceSeq": ${read.nextSeq}})`);
  const pending = result.input?.pending ?? 0;
  if (pending > 0 && result.state !== 'exited') {
    parts.push(`(${pending} bytes of input not yet read by the command: it is not reading its stdin now; they stay queued in order)`);
  }
  const next = nextStep(result);
  if (next) parts.push(next);
  return {
    content: [{ type: 'text', text: parts.join('\n') }],
    structuredContent: { ...result, output: { stdout, stderr, nextSeq: read.nextSeq, more: read.more } },
  };
}
