// `cc-executor status`: the table of executions, one execution's state and output, or --follow it to the end across reconnects.
import { setTimeout as delay } from 'node:timers/promises';
import { checkIdArg, COMMON_HELP, COMMON_OPTIONS, parseDuration, parseOptions } from './args.js';
import { Connection, resolveTarget, type Target } from './connect.js';
import type { CliContext } from './context.js';
import { dieBySignal } from './die-by-signal.js';
import { ConnectionError, EXIT, UsageError, exitStatusOf } from './exit-codes.js';
import { commandOf, describeState, formatDuration, oneLine, renderTable, type ExecutionSummary } from './format.js';
import { readPage, type OutputChunk, type StatusAnswer } from './output-reader.js';
import type { Terminal } from './terminal.js';

const STATUS_OPTIONS = {
  ...COMMON_OPTIONS,
  follow: { type: 'boolean', short: 'f' },
  'reconnect-for': { type: 'string' },
  history: { type: 'boolean' },
  query: { type: 'string' },
  state: { type: 'string' },
  limit: { type: 'string' },
} as const;

/** --follow polls this often while output flows, backing off to the max while the command is silent. */
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 500;
/** --follow keeps reconnecting this long after a dropped connection before it gives up (--reconnect-for). */
const DEFAULT_RECONNECT_FOR_MS = 60_000;
const RECONNECT_MAX_DELAY_MS = 2_000;
/** One poll's answer must come within this. */
const POLL_TIMEOUT_MS = 15_000;

export const STATUS_HELP = `Usage: cc-executor status [options] [ID]

Without ID: every execution the server holds (all sessions), as a table fitted to the terminal;
with --history, the saved records instead (past server runs included).
With ID (or a unique prefix of at least 4 characters): a state line on stderr, then the output
so far, the command's stdout on our stdout and its stderr on our stderr.

Options:
  -f, --follow       Print the output as it comes until the execution ends (like tail -f), then
                     exit with its exit status; reconnects after a dropped connection and resumes
                     from its cursor, so every byte is printed once
  --reconnect-for DUR  With --follow: keep trying to reconnect this long [default: 1m]
  --history          Without ID: list saved records, newest 50 by default, across server restarts
  --query TEXT       With --history: only commands containing TEXT
  --state STATE      With --history: only running, paused, exited or lost records
  --limit N          With --history: at most N records (1-1000)
${COMMON_HELP.join('\n')}

With --json: the table is {"executions":[...],"server":{...}}; one execution is the status object with
all output chunks; --follow prints one JSON object per line ({"type":"output",...}, then
{"type":"result",...}).`;

export async function runStatus(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseOptions(args, STATUS_OPTIONS, true);
  if (values.help === true) {
    ctx.term.print(STATUS_HELP);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw new UsageError(`status takes at most one id, got ${positionals.length} words`);
  const target = resolveTarget({ url: values.url as string | undefined, token: values.token as string | undefined }, ctx.env);
  const json = values.json === true;
  const id = positionals[0];
  const historyOnly = (['query', 'state', 'limit'] as const).find((k) => values[k] !== undefined);
  if (historyOnly !== undefined && values.history !== true) throw new UsageError(`--${historyOnly} applies to --history only`);
  if (id === undefined) {
    if (values.follow === true) throw new UsageError('--follow needs an execution id');
    return await listExecutions(target, json, ctx.term, values.history === true ? historyFilter(values) : undefined);
  }
  if (values.history === true) throw new UsageError('--history lists records; give no id (status ID finds past executions too)');
  checkIdArg(id, 'cc-executor status ID');
  const reconnectFor = values['reconnect-for'];
  if (reconnectFor !== undefined && values.follow !== true) throw new UsageError('--reconnect-for applies to --follow only');
  if (values.follow === true) {
    const giveUpMs = typeof reconnectFor === 'string' ? parseDuration(reconnectFor, '--reconnect-for') : DEFAULT_RECONNECT_FOR_MS;
    return await new Follower(target, id, json, ctx.term, giveUpMs).run();
  }
  return await showExecution(target, id, json, ctx.term);
}

async function withConnection<T>(target: Target, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await Connection.open(target);
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

function historyFilter(values: Record<string, unknown>): Record<string, unknown> {
  const filter: Record<string, unknown> = { scope: 'history' };
  if (typeof values.query === 'string') filter.query = values.query;
  if (typeof values.state === 'string') filter.state = values.state;
  if (typeof values.limit === 'string') {
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new UsageError(`--limit: expected a whole number from 1 to 1000, got ${values.limit}`);
    filter.limit = limit;
  }
  return filter;
}

async function listExecutions(
  target: Target,
  json: boolean,
  term: Terminal,
  history: Record<string, unknown> | undefined,
): Promise<number> {
  // Each CLI call is a new session with no executions of its own: list everyone's.
  const answer = await withConnection(target, (conn) => conn.call('status', history ?? { scope: 'all' }));
  if (json) {
    term.printJson(answer);
    return EXIT.OK;
  }
  const rows = ((answer.executions as Array<ExecutionSummary & { startedAt: string }> | undefined) ?? []).sort((a, b) =>
    a.startedAt.localeCompare(b.startedAt),
  );
  const server = answer.server as { version?: string; sessions?: number } | undefined;
  term.note(`server ${server?.version ?? '?'}, ${server?.sessions ?? '?'} session(s), ${rows.length} execution(s)`);
  const width = process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : undefined;
  term.print(renderTable(rows, width));
  return EXIT.OK;
}

async function showExecution(target: Target, id: string, json: boolean, term: Terminal): Promise<number> {
  return withConnection(target, async (conn) => {
    let cursor = 0;
    let first: StatusAnswer | undefined;
    const chunks: OutputChunk[] = [];
    for (;;) {
      const page = await readPage(conn, first?.id ?? id, cursor);
      if (first === undefined) {
        first = page.answer;
        if (!json) term.info(`${first.id} ${describeState(first)}: ${oneLine(commandOf(first))}`);
      }
      if (page.lostChunks > 0) term.warn(`${page.lostChunks} earlier output chunk(s) are no longer in the server's memory`);
      for (const c of page.fresh) {
        if (json) chunks.push(c);
        else term.write(c.stream, c.data);
      }
      await term.drained();
      if (!page.answer.output.more || page.cursor === cursor) break;
      cursor = page.cursor;
    }
    if (json) term.printJson({ ...first, output: { ...first.output, chunks, more: false } });
    return EXIT.OK;
  });
}

/** `status --follow`: poll with a cursor, reconnect on a dropped connection, print each chunk once. */
class Follower {
  private conn: Connection | undefined;
  private cursor = 0;
  private id: string;
  private lostSince: number | undefined;
  private reconnectDelay = POLL_MIN_MS;
  private indicatorStarted = false;

  constructor(
    private readonly target: Target,
    id: string,
    private readonly json: boolean,
    private readonly term: Terminal,
    private readonly giveUpMs: number,
  ) {
    this.id = id;
  }

  async run(): Promise<number> {
    const onInterrupt = () => {
      this.term.stopIndicator();
      // Only the following stops (the command goes on): end like any command interrupted by Ctrl-C.
      dieBySignal('SIGINT', EXIT.INTERRUPTED);
    };
    process.on('SIGINT', onInterrupt);
    try {
      // The first connection must work: with nothing to resume, waiting for a server that is not there helps nobody.
      this.conn = await Connection.open(this.target);
      return await this.loop();
    } finally {
      process.off('SIGINT', onInterrupt);
      this.term.stopIndicator();
      await this.conn?.close();
    }
  }

  private async loop(): Promise<number> {
    let idle = POLL_MIN_MS;
    for (;;) {
      let answer: StatusAnswer;
      let fresh: OutputChunk[];
      try {
        this.conn ??= await Connection.open(this.target);
        const page = await readPage(this.conn, this.id, this.cursor, POLL_TIMEOUT_MS);
        if (page.lostChunks > 0) this.term.warn(`${page.lostChunks} output chunk(s) left the server's memory before they could be shown`);
        answer = page.answer;
        fresh = page.fresh;
        // From now on the full id: a prefix could become ambiguous while we follow.
        this.id = answer.id;
        this.cursor = page.cursor;
        if (this.lostSince !== undefined) this.term.note('reconnected');
        this.lostSince = undefined;
        this.reconnectDelay = POLL_MIN_MS;
      } catch (e) {
        if (!(e instanceof ConnectionError) || !e.retryable) throw e;
        await this.reconnectLater(e);
        continue;
      }
      for (const c of fresh) {
        if (this.json) this.term.printJson({ type: 'output', ...c });
        else this.term.write(c.stream, c.data);
      }
      // A slow reader (a pipe into less) sets the pace: no more polling until what we wrote is taken.
      await this.term.drained();
      if (!this.indicatorStarted) {
        this.indicatorStarted = true;
        this.term.startIndicator(Date.now() - answer.durationMs, 'Ctrl-C stops following');
      }
      if (answer.output.more) continue;
      if (answer.state === 'exited') {
        const { output: _output, ...rest } = answer;
        if (this.json) this.term.printJson({ type: 'result', ...rest });
        else this.term.note(`${answer.id.slice(0, 8)} ${describeState(answer)}`);
        return exitStatusOf(answer);
      }
      idle = fresh.length > 0 ? POLL_MIN_MS : Math.min(idle * 2, POLL_MAX_MS);
      await delay(idle);
    }
  }

  private async reconnectLater(e: ConnectionError): Promise<void> {
    await this.conn?.close();
    this.conn = undefined;
    this.lostSince ??= Date.now();
    if (Date.now() - this.lostSince > this.giveUpMs) {
      throw new ConnectionError(`${e.message}; gave up reconnecting after ${formatDuration(this.giveUpMs)}`, false);
    }
    this.term.note(`${e.message}; reconnecting`);
    await delay(this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_DELAY_MS);
  }
}
