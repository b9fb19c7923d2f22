// The outputSchema of every tool: what structuredContent holds, so clients (and the SDK's Client) can validate it.
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../src/errors.js';

// Why objects are loose: a client validates every result against these schemas, so a field added to a
// snapshot must not turn results into validation errors for clients built against an older schema. The
// tests check that each result's keys are all declared, which keeps the schemas complete.
const obj = <T extends z.ZodRawShape>(shape: T) => z.object(shape).loose();

const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/** A tool error (isError: true) carries only this. */
export const ToolErrorSchema = obj({
  code: z.enum(ERROR_CODE_LIST).describe('Stable error code (docs/errors.md)'),
  message: z.string().describe('What went wrong, for people'),
  details: z.record(z.string(), z.unknown()).optional().describe('Machine-readable details, e.g. `limit` or `policy`'),
}).describe('Present only on error results (isError: true)');

export const EXECUTION_STATES = ['running', 'paused', 'exited'] as const;
/** States a saved record can be in: `lost` = the server died while it ran and nothing of it was found alive. */
export const RECORD_STATES = [...EXECUTION_STATES, 'lost'] as const;
export const TERMINATION_REASONS = [
  'cancel',
  'kill',
  'timeout',
  'idle_timeout',
  'disconnect',
  'shutdown',
  'detached_ttl',
  'output_limit',
] as const;

const nullableInt = z.number().int().nullable();
const ptySize = obj({ cols: z.number().int(), rows: z.number().int() });

const hookChanges = obj({
  command: z.string().optional(),
  argv: z.array(z.string()).optional(),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string().nullable()).optional(),
  timeoutMs: z.number().optional(),
});

const hookRun = obj({
  stage: z.enum(['preExecute', 'postExecute']),
  index: z.number().int(),
  command: z.string(),
  outcome: z.enum(['ok', 'blocked', 'failed', 'skipped']),
  reason: z.string().nullable(),
  pid: nullableInt,
  exitCode: nullableInt,
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  stdoutHead: z.string(),
  stdoutBytes: z.number().int(),
  stderrHead: z.string(),
  stderrBytes: z.number().int(),
  changes: obj({ before: hookChanges, after: hookChanges }).nullable(),
});

/** Every field of an execution's snapshot plus its inline output (execute, control, write_stdin, status). */
const executionFields = {
  id: z.string().describe('Execution id (pass it, or a unique prefix, to status, control, write_stdin)'),
  sessionId: z.string(),
  command: z.string().nullable(),
  argv: z.array(z.string()).nullable(),
  cwd: z.string(),
  sandbox: obj({ network: z.enum(['none', 'host']), writableRoots: z.array(z.string()) })
    .nullable()
    .describe('The sandbox it runs in; null = unsandboxed'),
  pid: nullableInt,
  pgid: nullableInt,
  state: z.enum(EXECUTION_STATES),
  exitCode: nullableInt.describe('Exit code once exited normally; null while running or when killed by a signal'),
  signal: z.string().nullable().describe('Signal that killed it, e.g. "SIGTERM"'),
  terminationReason: z.enum(TERMINATION_REASONS).nullable().describe('Why the server ended it; null if it ended by itself'),
  background: z.boolean(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  durationMs: z.number(),
  stdoutBytes: z.number().int(),
  stderrBytes: z.number().int(),
  lastSeq: z.number().int().describe('Seq of the last output chunk; status sinceSeq continues from here'),
  expectedMs: z.number().nullable().describe('Usual duration of this command (median of past runs), null without history'),
  slowerThanUsual: z.boolean().nullable(),
  timeout: obj({
    requestedMs: z.number(),
    elapsedBudgetMs: z.number(),
    remainingBudgetMs: z.number(),
    multiplier: z.number(),
    projectedDeadline: z.string().nullable(),
    stretchedMs: z.number(),
    clamped: z.boolean().describe('The requested timeoutMs was above maxTimeoutMs and was clamped to it'),
    idleTimeoutMs: z.number().nullable(),
  }),
  hooks: z.array(hookRun),
  hookWarnings: z.array(z.string()),
  interactive: z.boolean().describe('stdin is open for write_stdin'),
  pty: ptySize.nullable().describe('Terminal size of a pty execution, else null'),
  waitingForInput: z.boolean().describe('It is blocked reading its input: answer with write_stdin'),
  inputDetection: z.enum(['proc', 'quiet-output']).nullable(),
  input: obj({
    writes: z.number().int(),
    bytes: z.number().int(),
    closed: z.boolean(),
    pending: z.number().int().describe('Bytes written but not yet read by the command (queued in order)'),
  }).nullable(),
  cgroup: z.string().nullable(),
  lingeringMembers: nullableInt.describe('Processes the exited leader left behind; null while the leader runs'),
  usage: obj({ cpuMs: z.number().nullable(), memoryPeakBytes: z.number().nullable() }).nullable(),
  stdout: z.string().describe('Inline stdout: head and tail, cut at line boundaries, with a marker where output is left out'),
  stderr: z.string().describe('Inline stderr, like stdout'),
  truncated: z.boolean().describe('Some output is not inline: status reads all of it'),
};

/** The keys every execution result has; an error result has `error` instead. */
const EXECUTION_KEYS = Object.keys(executionFields);

/** A loose object with every field optional, and a JSON Schema `anyOf` that requires one group of keys. */
function eitherOf<T extends z.ZodRawShape>(shape: T, groups: string[][]) {
  const optional = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, (v as z.ZodType).optional()])) as unknown as {
    [K in keyof T]: z.ZodOptional<T[K]>;
  };
  return obj({ ...optional, error: ToolErrorSchema.optional() }).meta({
    anyOf: [...groups.map((required) => ({ required })), { required: ['error'] }],
  });
}

const prompt = z.string().nullable().describe('While waiting for input: the last line printed (the prompt)');

export const ExecuteOutputSchema = eitherOf({ ...executionFields, prompt }, [[...EXECUTION_KEYS, 'prompt']]);

export const ControlOutputSchema = eitherOf({ ...executionFields, prompt, action: z.string().describe('The action done') }, [
  [...EXECUTION_KEYS, 'action'],
]);

export const WriteStdinOutputSchema = eitherOf(
  {
    ...executionFields,
    prompt,
    output: obj({
      stdout: z.string().describe('What it printed on stdout since the write (rendered on a pty)'),
      stderr: z.string(),
      nextSeq: z.number().int().describe('status sinceSeq to continue after this output'),
      more: z.boolean().describe('More output than fits this reply: read on with status'),
    }),
  },
  [[...EXECUTION_KEYS, 'output']],
);

const numberedLine = obj({ line: z.number().int(), text: z.string() });

const chunk = obj({ seq: z.number().int(), stream: z.enum(['stdout', 'stderr']), data: z.string() });

const listedExecution = obj({
  id: z.string(),
  command: z.string(),
  state: z.enum(RECORD_STATES),
  exitCode: nullableInt,
  signal: z.string().nullable(),
  terminationReason: z.string().nullable(),
  durationMs: z.number(),
  startedAt: z.string(),
  sessionId: z.string().optional(),
  transport: z.string().optional(),
  cwd: z.string().optional(),
  pid: nullableInt.optional(),
  pgid: nullableInt.optional(),
  lastSeq: z.number().int().optional(),
  stdoutBytes: z.number().int().optional(),
  stderrBytes: z.number().int().optional(),
  interactive: z.boolean().optional(),
  pty: ptySize.nullable().optional(),
  waitingForInput: z.boolean().nullable().optional(),
  usage: obj({ cpuMs: z.number().nullable(), memoryPeakBytes: z.number().nullable() }).nullable().optional(),
  background: z.boolean().optional(),
  lingeringMembers: nullableInt.optional(),
});

/** status: one execution (live or from its record) with output, a byte range, line range or search; or a listing. */
export const StatusOutputSchema = eitherOf(
  {
    ...executionFields,
    // A record keeps these too (past executions); `lost` = the server died while it ran.
    state: z.enum(RECORD_STATES),
    transport: z.string().describe('Transport of the session that started it'),
    groupAlive: z.boolean().describe('Anything it started is still alive'),
    saveErrors: z.array(z.string()).describe('What could not be saved to disk'),
    version: z.number().optional(),
    lostReason: z.string().optional(),
    env: z.record(z.string(), z.string()).optional().describe('Variables the request set (secret-looking values redacted)'),
    pgidStartTicks: nullableInt.optional(),
    handle: z.record(z.string(), z.unknown()).optional(),
    server: z.record(z.string(), z.unknown()).describe('Listing: server facts. Record: the server that ran it'),
    loadAtStart: z.unknown(),
    logs: obj({ stdout: z.string(), stderr: z.string(), index: z.string() }).optional(),
    output: obj({
      chunks: z.array(chunk),
      nextSeq: z.number().int().describe('Pass back as sinceSeq to continue'),
      firstSeq: z.number().int(),
      evicted: z.boolean(),
      more: z.boolean().describe('More output is available now'),
      earlier: z.boolean().optional().describe('beforeSeq: older output exists'),
    }).describe('sinceSeq / beforeSeq reads'),
    range: obj({
      stream: z.enum(['stdout', 'stderr']),
      byteOffset: z.number().int(),
      data: z.string(),
      bytes: z.number().int(),
      eof: z.boolean(),
    }).describe('stream + byteOffset reads'),
    grep: obj({
      pattern: z.string(),
      ignoreCase: z.boolean(),
      context: z.number().int(),
      matches: z.array(
        obj({
          stream: z.enum(['stdout', 'stderr']),
          line: z.number().int().describe('1-based line number in that stream'),
          text: z.string(),
          before: z.array(numberedLine).describe('Context lines before the match'),
          after: z.array(numberedLine).describe('Context lines after the match'),
        }),
      ),
      limitReached: z.boolean().describe('maxMatches (or maxBytes) was reached: more matches exist'),
      complete: z.boolean().describe('false when the search stopped at its time budget'),
      linesScanned: obj({ stdout: z.number().int().optional(), stderr: z.number().int().optional() }),
    }).describe('grep searches'),
    lines: obj({
      stream: z.enum(['stdout', 'stderr']),
      from: z.number().int(),
      to: z.number().int().describe('Last line returned'),
      count: z.number().int(),
      text: z.string().describe('The lines, joined with newlines'),
      more: z.boolean().describe('maxBytes stopped the read before `to`'),
      eof: z.boolean().describe('The log ended before the requested `to`'),
    }).describe('lines range reads'),
    executions: z.array(listedExecution).describe('Listing (no id)'),
    historyLoading: z
      .boolean()
      .describe('scope "history": true for a moment after a start, while past records are still being read (older runs may be missing)'),
    historyMore: obj({
      before: z.string().describe('Pass as `before` to search the records older than this one'),
      scanned: z.number().int().describe('Records looked at by this call'),
    }).describe('scope "history" with `query`: the search stopped at its budget before the oldest record'),
  },
  [
    ['id', 'state', 'output'],
    ['id', 'state', 'range'],
    ['id', 'state', 'grep'],
    ['id', 'state', 'lines'],
    ['executions', 'server'],
  ],
);
