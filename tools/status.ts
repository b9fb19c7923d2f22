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
import { compilePattern, grepLog, readLines, renderTerminalLines, type GrepMatch } from '../src/records/log-lines.js';

const DEFAULT_MAX_BYTES = 256 * 1024;
const MAX_MAX_BYTES = 8 * 1024 * 1024;
const MAX_PATTERN_CHARS = 1_000;
const MAX_CONTEXT_LINES = 20;
const DEFAULT_MATCHES = 100;
const MAX_MATCHES = 1_000;
/** Records a history `query` looks at per call: a text search over 100,000 of them took 30-100 ms on the event loop. */
const HISTORY_QUERY_SCAN = 20_000;

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
    .describe('The stream `byteOffset`, `lines` (default stdout) and `grep` (default both) read from the full log on disk.'),
  byteOffset: z.number().int().min(0).optional().describe('Start of the byte range (with `stream`); length is maxBytes.'),
  lines: z
    .object({
      from: z.number().int().min(1).describe('First line, 1-based'),
      to: z.number().int().min(1).describe('Last line (inclusive)'),
    })
    .strict()
    .optional()
    .describe(
      "Read lines from..to of `stream`'s full log (default stdout), at most maxBytes. The inline output's marker names the range it left out.",
    ),
  grep: z
    .string()
    .min(1)
    .max(MAX_PATTERN_CHARS)
    .optional()
    .describe(
      'Search the full output log on disk for this regular expression (JavaScript syntax), line by line: returns matching lines ' +
        'with their line numbers and stream, without reading the whole output. E.g. "FAIL|Error:".',
    ),
  ignoreCase: z.boolean().optional().describe('With grep: match regardless of case.'),
  context: z
    .number()
    .int()
    .min(0)
    .max(MAX_CONTEXT_LINES)
    .optional()
    .describe('With grep: lines shown before and after each match (default 0).'),
  maxMatches: z
    .number()
    .int()
    .min(1)
    .max(MAX_MATCHES)
    .optional()
    .describe(`With grep: stop after this many matches (default ${DEFAULT_MATCHES}); limitReached says more exist.`),
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
  before: z
    .string()
    .min(1)
    .optional()
    .describe(
      'With scope "history": only records that started before this one (an id or unique prefix). A `query` search looks at ' +
        `${HISTORY_QUERY_SCAN.toLocaleString('en')} records per call: pass \`historyMore.before\` here to search older ones.`,
    ),
};

type StatusInput = z.infer<z.ZodObject<typeof StatusInputShape>>;

export function registerStatusTool(server: McpServer, deps: ToolDeps): void {
  server.registerTool(
    'status',
    {
      title: 'Execution status and output',
      description:
        "With id: the execution's state, exit code, timeout facts and its output after `sinceSeq` (chunks {seq, stream, data}, with nextSeq to continue); " +
        'works for past executions too (from their records). To find something in long output, search it with `grep` ' +
        '(a regular expression; matching lines with line numbers and context) and read around it with `lines` instead of paging through it. Without id: executions and server facts (version, uptime, sessions, load); scope "history" lists saved records.',
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
  const reads = (['byteOffset', 'lines', 'grep', 'sinceSeq', 'beforeSeq'] as const).filter((k) => input[k] !== undefined);
  if (reads.length > 1 && !(reads.length === 2 && reads.includes('sinceSeq') && reads.includes('beforeSeq')))
    throw new ServerError('INVALID_INPUT', `give one way to read: ${reads.map((k) => `\`${k}\``).join(' or ')}, not several`);
  for (const k of ['ignoreCase', 'context', 'maxMatches'] as const)
    if (input[k] !== undefined && input.grep === undefined) throw new ServerError('INVALID_INPUT', `\`${k}\` goes with \`grep\``);
  const found = deps.find(id);
  const base = deps.details(found);
  if (input.grep !== undefined) return await grepStatus(deps, found, base, input.grep, input, maxBytes);
  if (input.lines !== undefined) return await linesStatus(deps, found, base, input.lines, input.stream ?? 'stdout', maxBytes);
  if (input.byteOffset !== undefined || input.stream !== undefined) {
    if (input.byteOffset === undefined || input.stream === undefined)
      throw new ServerError('INVALID_INPUT', '`stream` goes with `byteOffset` (a byte range), `lines` or `grep`');
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
  const page =
    scope === 'history'
      ? deps.records.listPage({
          ...(input.state !== undefined ? { state: input.state } : {}),
          ...(input.query !== undefined ? { query: input.query } : {}),
          ...(input.limit !== undefined ? { limit: input.limit } : {}),
          ...(input.before !== undefined ? { before: input.before } : {}),
          scanBudget: HISTORY_QUERY_SCAN,
        })
      : undefined;
  const list = page
    ? page.records
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
  // Right after a start, past records are still being read (in the background): say so, never a silently short list.
  const history = scope === 'history' ? deps.records.historyState() : undefined;
  const loadingLine =
    (history?.loading ? `\nhistory still loading (${history.records} records so far): older runs may be missing; ask again shortly` : '') +
    (page?.next
      ? `\nsearched the newest ${page.next.scanned.toLocaleString('en')} records only: pass before "${page.next.before}" to search older ones`
      : '');
  const text =
    `cc-executor ${VERSION}, ${server.sessions} session(s), ${server.executions.running} running, ` +
    `load cpu ${load.cpu ?? '?'}% gpu ${load.gpu ?? 'n/a'} (x${load.multiplier})${hooksLine(server.hooks)}${loadingLine}\n${lines.join('\n') || '(no executions)'}`;
  return {
    content: [{ type: 'text' as const, text }],
    structuredContent: {
      executions: list,
      server,
      ...(history ? { historyLoading: history.loading } : {}),
      ...(page?.next ? { historyMore: page.next } : {}),
    },
  };
}

function hooksLine(hooks: ReturnType<HookRunner['describe']> | null): string {
  if (!hooks || hooks.count === 0) return '';
  const last = hooks.recentFailures.at(-1);
  const tail = last ? `; last: ${last.stage} #${last.index} (${last.command}) ${last.reason}` : '';
  return `\nhooks: ${hooks.preExecute.length} preExecute, ${hooks.postExecute.length} postExecute, ${hooks.totals.failures} failure(s)${tail}`;
}

type Found = ReturnType<ToolDeps['find']>;
type Details = ReturnType<ToolDeps['details']>;
const STREAMS = ['stdout', 'stderr'] as const;

/** A PTY execution's log is terminal bytes: lines and grep read it as rendered text, as everything a model reads. */
function isTerminal(base: Details): boolean {
  return (base as { pty?: unknown }).pty != null;
}

/** status `grep`: matching lines of the full logs on disk, streamed line by line. */
async function grepStatus(deps: ToolDeps, found: Found, base: Details, pattern: string, input: StatusInput, maxBytes: number) {
  const re = compilePattern(pattern, input.ignoreCase === true);
  // An execution that just ended may still be flushing its logs: its answer came before they reached the disk.
  await deps.records.settled(found.id);
  const context = input.context ?? 0;
  const maxMatches = input.maxMatches ?? DEFAULT_MATCHES;
  const streams = input.stream ? [input.stream] : STREAMS;
  const matches: Array<GrepMatch & { stream: 'stdout' | 'stderr' }> = [];
  const linesScanned: Partial<Record<'stdout' | 'stderr', number>> = {};
  let limitReached = false;
  let complete = true;
  const deadline = Date.now() + deps.config.grepBudgetMs;
  for (const stream of streams) {
    if (limitReached || !complete) break;
    const r = await grepLog(deps.outputLogPath(found, stream), re, {
      context,
      maxMatches: maxMatches - matches.length,
      maxBytes,
      deadline,
      ...(isTerminal(base) ? { render: renderTerminalLines } : {}),
    });
    matches.push(...r.matches.map((m) => ({ stream, ...m })));
    linesScanned[stream] = r.linesScanned;
    limitReached = r.limitReached;
    complete = r.complete;
  }
  const text = [describeOutcome(base as never)];
  const where = streams.join('+');
  // Two limits end a search early: the match count, or the reply's size (long lines, wide context).
  const more = !limitReached
    ? ''
    : matches.length >= maxMatches
      ? ` (limit ${maxMatches} reached: more matches exist; raise maxMatches or narrow the pattern)`
      : ` (maxBytes (${maxBytes}) reached: more matches may exist; narrow the pattern, use less context, or raise maxBytes)`;
  const cut = complete ? '' : ' (search stopped at its time budget: partial result)';
  text.push(`grep ${JSON.stringify(pattern)} in ${where}: ${matches.length} matching line(s)${more}${cut}`);
  for (const m of matches) {
    if (context > 0 && m !== matches[0]) text.push('--');
    for (const b of m.before) text.push(`${m.stream}-${b.line}-${b.text}`);
    text.push(`${m.stream}:${m.line}:${m.text}`);
    for (const a of m.after) text.push(`${m.stream}-${a.line}-${a.text}`);
  }
  if (matches.length > 0)
    text.push(`(read around a match with status {"id": ${JSON.stringify(found.id)}, "stream": "…", "lines": {"from": …, "to": …}})`);
  return {
    content: [{ type: 'text' as const, text: text.join('\n') }],
    structuredContent: {
      ...base,
      grep: { pattern, ignoreCase: input.ignoreCase === true, context, matches, limitReached, complete, linesScanned },
    },
  };
}

/** status `lines`: a line range of one stream's full log. */
async function linesStatus(
  deps: ToolDeps,
  found: Found,
  base: Details,
  range: { from: number; to: number },
  stream: 'stdout' | 'stderr',
  maxBytes: number,
) {
  if (range.to < range.from) throw new ServerError('INVALID_INPUT', '`lines.to` is before `lines.from`');
  await deps.records.settled(found.id); // as grep: the last lines of a run that just ended
  const read = await readLines(
    deps.outputLogPath(found, stream),
    range.from,
    range.to,
    maxBytes,
    isTerminal(base) ? renderTerminalLines : undefined,
  );
  const last = read.lines.at(-1)?.line ?? range.from - 1;
  const body = read.lines.map((l) => l.text).join('\n');
  const text = [
    describeOutcome(base as never),
    `${stream} lines ${range.from}-${last}${read.eof && last < range.to ? ' (end of log)' : ''}:`,
  ];
  if (body !== '') text.push(body);
  if (read.more)
    text.push(
      `(maxBytes reached: continue with status {"id": ${JSON.stringify(found.id)}, "stream": "${stream}", "lines": {"from": ${last + 1}, "to": ${range.to}}})`,
    );
  return {
    content: [{ type: 'text' as const, text: text.join('\n') }],
    structuredContent: {
      ...base,
      lines: { stream, from: range.from, to: last, count: read.lines.length, text: body, more: read.more, eof: read.eof },
    },
  };
}
