// The `status` tool: one execution's state and output after a cursor, or the session's executions and server facts.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { toToolError } from '../src/errors.js';
import { VERSION } from '../src/version.js';
import type { ToolDeps } from './deps.js';
import { describeOutcome, executionResult } from './results.js';

const DEFAULT_MAX_BYTES = 256 * 1024;
const MAX_MAX_BYTES = 8 * 1024 * 1024;

export const StatusInputShape = {
  id: z.string().min(1).optional().describe('Execution id (or unique prefix). Without it: a list of executions and server facts.'),
  sinceSeq: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Return output chunks with seq greater than this (0 = from the start). Pass back `output.nextSeq` to follow.'),
  maxBytes: z
    .number()
    .int()
    .min(1)
    .max(MAX_MAX_BYTES)
    .optional()
    .describe('At most this many output bytes (default 262144; at least one chunk).'),
  scope: z
    .enum(['session', 'all'])
    .optional()
    .describe('Without id: "session" (default) lists this session\'s executions, "all" every execution.'),
};

export function registerStatusTool(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'status',
    {
      title: 'Execution status and output',
      description:
        "With id: the execution's state, exit code, timeout facts and its output after `sinceSeq` (chunks {seq, stream, data}, with nextSeq to continue). " +
        "Without id: this session's executions and server facts (version, uptime, sessions, load).",
      inputSchema: StatusInputShape,
      annotations: { readOnlyHint: true },
    },
    (input) => {
      try {
        return input.id === undefined
          ? listStatus(deps, input.scope ?? 'session')
          : oneStatus(deps, input.id, input.sinceSeq ?? 0, input.maxBytes ?? DEFAULT_MAX_BYTES);
      } catch (e) {
        return toToolError(e);
      }
    },
  );
}

function oneStatus(deps: ToolDeps, id: string, sinceSeq: number, maxBytes: number) {
  const execution = deps.executions.find(id);
  const result = executionResult(execution);
  const output = execution.log.read(sinceSeq, maxBytes);
  const text = [describeOutcome(result)];
  if (output.evicted) text.push(`(output before seq ${output.firstSeq} was evicted from memory)`);
  for (const c of output.chunks) text.push(c.stream === 'stderr' ? `[stderr] ${c.data}` : c.data);
  text.push(`(next: sinceSeq ${output.nextSeq}${output.more ? ', more output is available' : ''})`);
  return {
    content: [{ type: 'text' as const, text: text.join('\n') }],
    structuredContent: {
      ...result,
      groupAlive: execution.group.isAlive(),
      output: {
        chunks: output.chunks.map(({ seq, stream, data }) => ({ seq, stream, data })),
        nextSeq: output.nextSeq,
        firstSeq: output.firstSeq,
        evicted: output.evicted,
        more: output.more,
      },
    },
  };
}

function listStatus(deps: ToolDeps, scope: 'session' | 'all') {
  const list = deps.executions.list(scope === 'all' ? {} : { sessionId: deps.session.id }).map((e) => {
    const s = e.snapshot();
    return {
      id: s.id,
      command: s.command ?? s.argv?.join(' ') ?? '',
      state: s.state,
      pid: s.pid,
      exitCode: s.exitCode,
      signal: s.signal,
      terminationReason: s.terminationReason,
      background: s.background,
      durationMs: s.durationMs,
      startedAt: s.startedAt,
    };
  });
  const server = {
    version: VERSION,
    uptimeSeconds: Math.round((Date.now() - deps.serverStartedAt) / 1000),
    sessions: deps.sessions.size,
    executions: deps.executions.counts(),
    load: deps.load.current(),
    session: { id: deps.session.id, transport: deps.session.transport, backPressurePauses: deps.session.flow.pauses },
  };
  const lines = list.map(
    (e) => `${e.id.slice(0, 8)}  ${e.state.padEnd(7)} ${String(e.exitCode ?? '-').padStart(4)}  ${e.durationMs}ms  ${e.command}`,
  );
  const text = `cc-executor ${VERSION}, ${server.sessions} session(s), ${server.executions.running} running\n${lines.join('\n') || '(no executions)'}`;
  return { content: [{ type: 'text' as const, text }], structuredContent: { executions: list, server } };
}
