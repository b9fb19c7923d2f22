// The `status` tool: one execution's state and output after a cursor (live or from its record), or a listing.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { ServerError, toToolError } from '../src/errors.js';
import type { OutputRead } from '../src/processes/output-log.js';
import type { HookRunner } from '../src/hooks/hook-runner.js';
import { VERSION } from '../src/version.js';
import type { ToolDeps } from './deps.js';
import { RECORD_STATES, StatusOutputSchema } from './output-schemas.js';
import { describeOutcome, executionResult, nextStep } from './results.js';
import { renderTerminalText } from '../src/processes/terminal-text.js';

const DEFAULT_MAX_BYTES = 256 * 1024;
const MAX_MAX_BYTES = 8 * 1024 * 1024;

export const StatusInputShape = {
  id: z
    .string()
    .min(1)
    .optional()
    .describe('Execution id (or unique prefix), live or past. Without it: a list of executions and server facts.'),
  sinceSeq: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Return output chunks with seq greater than this (0 = from the start). Pass back `output.nextSeq` to follow.'),
  beforeSeq: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'Scrollback: instead of sinceSeq, the output chunks just before this seq (at most maxBytes). Pass lastSeq + 1 for the tail; ' +
        '`output.earlier` says older output exists (pass the first returned seq as the next beforeSeq).',
    ),
  maxBytes: z
    .number()
    .int()
    .min(1)
    .max(MAX_MAX_BYTES)
    .optional()
    .describe('At most this many output bytes (default 262144; at least one chunk).'),
  stream: z
    .enum(['stdout', 'stderr'])
    .optional()
    .describe("With id and byteOffset: read a byte range of this stream's full log instead of chunks."),
  byteOffset: z.number().int().min(0).optional().describe('Start of the byte range (with `stream`); length is maxBytes.'),
  scope: z
    .enum(['session', 'all', 'history'])
    .optional()
    .describe(
      'Without id: "session" (default) this session\'s executions, "all" every live execution, "history" saved records across restarts.',
    ),
  state: z.enum(RECORD_STATES).optional().describe('With scope "history": only records in this state.'),
  query: z.string().optional().describe('With scope "history": only records whose command contains this text.'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('With scope "history": at most this many records (default 50), newest first.'),
};

type StatusInput = z.infer<z.ZodObject<typeof StatusInputShape>>;

export function registerStatusTool(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'status',
    {
      title: 'Execution status and output',
      description:
        "With id: the execution's state, exit code, timeout facts and its output after `sinceSeq` (chunks {seq, stream, data}, with nextSeq to continue); " +
        'works for past executions too (from their records). Without id: executions and server facts (version, uptime, sessions, load); scope "history" lists saved records.',
      inputSchema: StatusInputShape,
      outputSchema: StatusOutputSchema,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (input) => {
      try {
        return input.id === undefined ? listStatus(deps, input) : await oneStatus(deps, input.id, input);
      } catch (e) {
        return toToolError(e);
      }
    },
  );
}

function outputJson(output: OutputRead & { earlier?: boolean }) {
  return {
    chunks: output.chunks.map(({ seq, stream, data }) => ({ seq, stream, data })),
    nextSeq: output.nextSeq,
    firstSeq: output.firstSeq,
    evicted: output.evicted,
    more: output.more,
    ...(output.earlier !== undefined ? { earlier: output.earlier } : {}),
  };
}

async function oneStatus(deps: ToolDeps, id: string, input: StatusInput) {
  const maxBytes = input.maxBytes ?? DEFAULT_MAX_BYTES;
  const found = deps.find(id);
  const base = deps.details(found);
  if (input.byteOffset !== undefined || input.stream !== undefined) {
    if (input.byteOffset === undefined || input.stream === undefined)
      throw new ServerError('INVALID_INPUT', 'a byte range needs both `stream` and `byteOffset`');
    const range = await deps.readOutputRange(found, input.stream, input.byteOffset, maxBytes);
    return {
      content: [{ type: 'text' as const, text: `${describeOutcome(base as never)}\n${range.data}` }],
      structuredContent: { ...base, range: { stream: input.stream, byteOffset: input.byteOffset, ...range } },
    };
  }
  if (input.beforeSeq !== undefined && input.sinceSeq !== undefined)
    throw new ServerError('INVALID_INPUT', 'give `sinceSeq` (read forward) or `beforeSeq` (read back), not both');
  const output =
    input.beforeSeq !== undefined
      ? await deps.readOutputBefore(found, input.beforeSeq, maxBytes)
      : await deps.readOutput(found, input.sinceSeq ?? 0, maxBytes);
  const text = [describeOutcome(base as never)];
  if (output.evicted) text.push(`(output before seq ${output.firstSeq} is no longer available)`);
  // A terminal's raw bytes are for terminal clients (structuredContent); the text shows them rendered.
  if ((base as { pty?: { rows: number } | null }).pty) {
    const rows = (base as { pty: { rows: number } }).pty.rows;
    const raw = output.chunks.map((c) => c.data).join('');
    if (raw !== '') text.push(renderTerminalText(raw, { maxHeldLines: rows - 1 }));
  } else for (const c of output.chunks) text.push(c.stream === 'stderr' ? `[stderr] ${c.data}` : c.data);
  const next = found.execution ? nextStep(executionResult(found.execution)) : null;
  if (next) text.push(next);
  text.push(`(next: sinceSeq ${output.nextSeq}${output.more ? ', more output is available' : ''})`);
  return { content: [{ type: 'text' as const, text: text.join('\n') }], structuredContent: { ...base, output: outputJson(output) } };
}

function listStatus(deps: ToolDeps, input: StatusInput) {
  const scope = input.scope ?? 'session';
  const server = {
    version: VERSION,
    uptimeSeconds: Math.round((Date.now() - deps.serverStartedAt) / 1000),
    sessions: deps.sessions.size,
    executions: deps.executions.counts(),
    load: deps.load.current(),
    session: { id: deps.session.id, transport: deps.session.transport, backPressurePauses: deps.session.flow.pauses },
    // Every open session, for the console's machine panel: who is connected and how much each runs.
    sessionList: deps.sessions.list().map((s) => ({
      id: s.id,
      transport: s.transport,
      createdAt: s.createdAt.toISOString(),
      idleMs: Math.max(0, Date.now() - s.lastActivity),
      running: deps.executions.list({ sessionId: s.id }).length,
    })),
    hooks: deps.executions.hookRunner?.describe() ?? null,
    sandbox: deps.executions.sandboxSummary(),
    containment: deps.executions.containment,
  };
  const list =
    scope === 'history'
      ? deps.records.list({
          ...(input.state !== undefined ? { state: input.state } : {}),
          ...(input.query !== undefined ? { query: input.query } : {}),
          ...(input.limit !== undefined ? { limit: input.limit } : {}),
        })
      : deps.executions.list(scope === 'all' ? {} : { sessionId: deps.session.id }).map((e) => {
          const s = e.snapshot();
          return {
            id: s.id,
            command: s.command ?? s.argv?.join(' ') ?? '',
            state: s.state,
            sessionId: s.sessionId,
            transport: e.meta.transport,
            cwd: s.cwd,
            pid: s.pid,
            pgid: s.pgid,
            lastSeq: s.lastSeq,
            stdoutBytes: s.stdoutBytes,
            stderrBytes: s.stderrBytes,
            // Interactive executions and what the backend can measure; null where it cannot tell.
            interactive: (s as { interactive?: boolean }).interactive ?? false,
            pty: (s as { pty?: unknown }).pty ?? null,
            waitingForInput: (s as { waitingForInput?: boolean }).waitingForInput ?? e.handle.waitingForInput?.() ?? null,
            usage: e.handle.usage?.() ?? null,
            exitCode: s.exitCode,
            signal: s.signal,
            terminationReason: s.terminationReason,
            background: s.background,
            durationMs: s.durationMs,
            startedAt: s.startedAt,
            lingeringMembers: s.lingeringMembers,
          };
        });
  const lines = list.map(
    (e) => `${e.id.slice(0, 8)}  ${e.state.padEnd(7)} ${String(e.exitCode ?? '-').padStart(4)}  ${e.durationMs}ms  ${e.command}`,
  );
  const load = server.load;
  const text =
    `cc-executor ${VERSION}, ${server.sessions} session(s), ${server.executions.running} running, ` +
    `load cpu ${load.cpu ?? '?'}% gpu ${load.gpu ?? 'n/a'} (x${load.multiplier})${hooksLine(server.hooks)}\n${lines.join('\n') || '(no executions)'}`;
  return { content: [{ type: 'text' as const, text }], structuredContent: { executions: list, server } };
}

function hooksLine(hooks: ReturnType<HookRunner['describe']> | null): string {
  if (!hooks || hooks.count === 0) return '';
  const last = hooks.recentFailures.at(-1);
  const tail = last ? `; last: ${last.stage} #${last.index} (${last.command}) ${last.reason}` : '';
  return `\nhooks: ${hooks.preExecute.length} preExecute, ${hooks.postExecute.length} postExecute, ${hooks.totals.failures} failure(s)${tail}`;
}
