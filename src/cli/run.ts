// `cc-executor run`: one command on the server, its output live on our stdout/stderr, its exit status ours; Ctrl-C/Ctrl-Z reach it.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { resolve as resolvePath } from 'node:path';
// The `_meta` keys the server puts on progress notifications: the wire contract, shared with the server.
import { META_EXECUTION, META_KIND, META_SEQ, META_STREAM } from '../wire.js';
import { COMMON_HELP, COMMON_OPTIONS, parseDuration, parseEnvPairs, parseOptions, splitAtCommand } from './args.js';
import { Connection, MAX_TIMER_MS, resolveTarget, toolErrorOf } from './connect.js';
import type { CliContext } from './context.js';
import { dieBySignal, ENDING_SIGNALS, type EndingSignal } from './die-by-signal.js';
import { ConnectionError, EXIT, ToolError, UsageError, exitStatusOf } from './exit-codes.js';
import { readPage, type OutputChunk } from './output-reader.js';
import { formatDuration } from './format.js';
import { RawMode, StdinPump } from './stdin-pump.js';
import type { Terminal } from './terminal.js';

const RUN_OPTIONS = {
  ...COMMON_OPTIONS,
  cwd: { type: 'string' },
  timeout: { type: 'string' },
  'idle-timeout': { type: 'string' },
  env: { type: 'string', short: 'e', multiple: true },
  shell: { type: 'boolean' },
  argv: { type: 'boolean' },
  background: { type: 'boolean' },
  stdin: { type: 'boolean' },
  interactive: { type: 'boolean', short: 'i' },
  tty: { type: 'boolean', short: 't' },
} as const;

/** How long Ctrl-Z waits for the server to confirm the pause before stopping us anyway. */
const PAUSE_TIMEOUT_MS = 5_000;

export const RUN_HELP = `Usage: cc-executor run [options] [--] COMMAND [ARG...]

Run COMMAND on a cc-executor server. Its stdout and stderr arrive on ours as they are written, and
we exit with its exit code (128+n when signal n ended it). Options end at \`--\` or at the first word
that is not an option. One word is a shell command line (\`run 'make && make test'\`); several words
are an argv run without a shell (\`run ls -la "my dir"\`).

Ctrl-C cancels the command (SIGTERM, then SIGKILL after the server's grace period); a second Ctrl-C
kills it now; a third stops waiting. Ctrl-Z pauses it (SIGSTOP to its process group) and suspends
us; \`fg\` resumes both. If this client goes away, the server ends the command: use --background
and \`cc-executor status --follow ID\` for commands that must outlive the connection.

Options:
  --cwd DIR          Working directory on the server [default: the current directory]
  --timeout DUR      Kill deadline: 30s, 10m, 2h, 500ms; a bare number is seconds [server default: 10m]
  --idle-timeout DUR End the command when it prints nothing for this long
  -e, --env K=V      Set a variable (repeatable); \`--env K\` passes our value of K
  --shell            Run the words as one shell command line (joined with spaces)
  --argv             Run the words as an argv, without a shell (also for a single word)
  --stdin            Send our stdin (read to its end, as UTF-8 text) to the command
  -i, --interactive  Stream our stdin to the command as it comes (prompts, REPLs); our EOF closes its stdin
  -t, --tty          Run it on a terminal (a PTY of our window's size): raw keys, Ctrl-C and window
                     size changes reach it, like ssh -t; our terminal is restored however we exit
  --background       Start it, print its id and return; it survives this client
${COMMON_HELP.join('\n')}

With --json, stdout carries one JSON object per line: {"type":"output","stream","seq","data"} as
output arrives, then {"type":"result", ...the execution's final state}.

Exit status: the command's, 128+n for signal n; 125 usage error or the server refused the request;
126 the command could not be started; 127 command not found; 255 the server could not be reached,
refused the connection, or the connection was lost.`;

/** The `execute` tool's result (the fields the client uses). */
interface ExecuteResult {
  id: string;
  pid: number;
  state: string;
  exitCode: number | null;
  signal: string | null;
  terminationReason: string | null;
  lastSeq: number;
  timeout: { requestedMs: number; idleTimeoutMs: number | null };
  [key: string]: unknown;
}

export async function runRun(args: string[], ctx: CliContext): Promise<number> {
  const { optionArgs, command } = splitAtCommand(args, RUN_OPTIONS);
  const { values } = parseOptions(optionArgs, RUN_OPTIONS, false);
  if (values.help === true) {
    ctx.term.print(RUN_HELP);
    return EXIT.OK;
  }
  const request = buildRequest(values, command, ctx);
  const target = resolveTarget({ url: values.url as string | undefined, token: values.token as string | undefined }, ctx.env);
  const live = values.interactive === true || values.tty === true;
  if (live && values.stdin === true) throw new UsageError('--stdin reads all input first; -i/-t stream it: give one of them');
  if (live && values.background === true) throw new UsageError('-i/-t need this client to stay: not with --background');
  if (values.stdin === true) {
    // Reading a terminal to its end waits for Ctrl-D: say so rather than wait silently.
    if ((ctx.stdin as { isTTY?: boolean }).isTTY === true)
      ctx.term.warn('reading stdin from the terminal until Ctrl-D (use -i to stream it to the command as you type)');
    request.stdin = await readAll(ctx.stdin);
  }
  if (live) {
    request.interactive = true;
    // This client streams our stdin itself: the call stays open while the command waits for input.
    request.returnOnInput = false;
  }
  if (values.tty === true) {
    request.pty = ctx.term.windowSize() ?? { cols: 80, rows: 24 };
    // We are the terminal: we want its bytes (colours, cursor moves), not the text rendered for a model.
    request.rawOutput = true;
  }
  const json = values.json === true;

  const conn = await Connection.open(target);
  try {
    if (values.background === true) return await startBackground(conn, request, json, ctx.term);
    const run = new ForegroundRun(conn, request, json, ctx.term, live ? { stdin: ctx.stdin, tty: values.tty === true } : undefined);
    try {
      return await run.run();
    } finally {
      if (run.endedBy) ctx.endedBy = run.endedBy;
    }
  } finally {
    await conn.close();
  }
}

function buildRequest(values: Record<string, unknown>, words: string[], ctx: CliContext): Record<string, unknown> {
  if (words.length === 0) throw new UsageError('nothing to run: put the command after the options, e.g. cc-executor run -- make test');
  if (values.shell === true && values.argv === true) throw new UsageError('--shell and --argv exclude each other');
  const useArgv = values.argv === true || (values.shell !== true && words.length > 1);
  const request: Record<string, unknown> = useArgv ? { argv: words } : { command: words.join(' ') };
  // Like a local command: relative to where we are, by default right here.
  request.cwd = typeof values.cwd === 'string' ? resolvePath(ctx.cwd, values.cwd) : ctx.cwd;
  const env = values.env as string[] | undefined;
  if (env !== undefined && env.length > 0) request.env = parseEnvPairs(env, ctx.env);
  if (typeof values.timeout === 'string') request.timeoutMs = parseDuration(values.timeout, '--timeout');
  if (typeof values['idle-timeout'] === 'string') request.idleTimeoutMs = parseDuration(values['idle-timeout'], '--idle-timeout');
  return request;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(parts).toString('utf8');
}

async function startBackground(conn: Connection, request: Record<string, unknown>, json: boolean, term: Terminal): Promise<number> {
  const s = await conn.call('execute', { ...request, background: true });
  const id = String(s.id);
  if (json) term.printJson(s);
  else {
    term.print(id);
    term.note(`started in the background (pid ${String(s.pid)}); follow it with: cc-executor status --follow ${id.slice(0, 8)}`);
  }
  return EXIT.OK;
}

/** One foreground execution: the execute call with progress, signal forwarding, and a final catch-up read. */
class ForegroundRun {
  private executionId: string | undefined;
  /** Highest output seq written: nothing at or below it is written again. */
  private cursor = 0;
  private interrupts = 0;
  private pausedRemote = false;
  private suspending = false;
  private readonly abort = new AbortController();
  private readonly startedAt = Date.now();
  private pump: StdinPump | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly request: Record<string, unknown>,
    private readonly json: boolean,
    private readonly term: Terminal,
    /** -i / -t: our stdin goes to the command as it comes; -t also makes our terminal its terminal. */
    private readonly live?: { stdin: NodeJS.ReadableStream; tty: boolean },
  ) {}

  async run(): Promise<number> {
    const handlers: Array<[NodeJS.Signals, () => void]> = [
      // Ctrl-C, kill, a closed terminal: cancel the remote command, then die by the same signal (main()).
      ...ENDING_SIGNALS.map((sig): [NodeJS.Signals, () => void] => [sig, () => void this.onInterrupt(sig)]),
      ['SIGTSTP', () => void this.onSuspend()],
      ['SIGCONT', () => void this.onContinue()],
    ];
    for (const [sig, handler] of handlers) process.on(sig, handler);
    // In raw mode Ctrl-C and Ctrl-Z are bytes for the remote terminal, and the indicator would draw over its screen.
    const raw = this.live?.tty ? new RawMode(this.live.stdin) : undefined;
    raw?.enter();
    const stopResize = this.live?.tty ? this.term.onWindowResize((size) => void this.resize(size)) : undefined;
    if (!this.live?.tty) this.term.startIndicator(this.startedAt, 'Ctrl-C cancels');
    try {
      return await this.execute();
    } finally {
      this.pump?.stop();
      stopResize?.();
      raw?.restore();
      this.term.stopIndicator();
      for (const [sig, handler] of handlers) process.off(sig, handler);
    }
  }

  /** The id is known (the server's first notification of an interactive execution carries it): start sending input. */
  private startPump(id: string): void {
    if (!this.live || this.pump) return;
    this.pump = new StdinPump(this.conn, id, this.live.stdin, (message) => this.term.warn(message));
    this.pump.start();
  }

  private async resize(size: { cols: number; rows: number }): Promise<void> {
    if (this.executionId === undefined) return;
    await this.conn.call('control', { id: this.executionId, action: 'resize', ...size }).catch(() => undefined);
  }

  private async execute(): Promise<number> {
    let raw: CallToolResult;
    try {
      raw = await this.conn.callTool('execute', this.request, {
        signal: this.abort.signal,
        onprogress: (p) => this.onProgress(p),
        // The deadline is the server's (and paused time does not count), so the SDK's 60 s default must
        // never end the call. Output and the server's heartbeats arrive well within this anyway; a dead
        // connection is caught by the Connection's watchdog, not by this timer.
        timeout: MAX_TIMER_MS,
        resetTimeoutOnProgress: true,
      });
    } catch (e) {
      if (this.abort.signal.aborted) return EXIT.INTERRUPTED;
      const err = this.conn.translate(e);
      if (err instanceof ConnectionError) {
        throw new ConnectionError(
          `${err.message}; the server ends a foreground command whose client goes away ` +
            '(use --background and `cc-executor status --follow ID` for commands that must survive)',
          false,
        );
      }
      throw err;
    }
    if (raw.isError) throw toolErrorOf(raw);
    const result = raw.structuredContent as ExecuteResult;
    this.executionId = result.id;
    await this.catchUp(result);
    this.report(result);
    if (this.json) this.term.printJson({ type: 'result', ...result });
    return exitStatusOf(result);
  }

  private onProgress(p: { message?: string; _meta?: Record<string, unknown> }): void {
    const meta = p._meta ?? {};
    const id = meta[META_EXECUTION];
    if (typeof id === 'string') {
      this.executionId ??= id;
      this.startPump(this.executionId);
    }
    // Heartbeats keep the call alive and say "still running"; they are not the command's output.
    if (meta[META_KIND] !== 'output') return;
    const stream = meta[META_STREAM];
    const seq = meta[META_SEQ];
    if ((stream !== 'stdout' && stream !== 'stderr') || typeof seq !== 'number' || seq <= this.cursor) return;
    this.emit({ seq, stream, data: p.message ?? '' });
  }

  private emit(chunk: OutputChunk): void {
    const full = this.json ? this.term.printJson({ type: 'output', ...chunk }) : this.term.write(chunk.stream, chunk.data);
    this.cursor = chunk.seq;
    if (full) this.conn.holdUntilDrained(full);
  }

  /**
   * Progress is best effort (the SDK drops a notification that races the response): whatever the
   * stream missed, `status` still has, and the cursor makes sure nothing is written twice.
   */
  private async catchUp(result: ExecuteResult): Promise<void> {
    while (this.cursor < result.lastSeq) {
      const page = await readPage(this.conn, result.id, this.cursor);
      if (page.lostChunks > 0) this.term.warn(`${page.lostChunks} output chunk(s) left the server's memory before they could be shown`);
      for (const chunk of page.fresh) this.emit(chunk);
      if (page.cursor <= this.cursor && page.fresh.length === 0) break;
      this.cursor = page.cursor;
    }
  }

  private report(result: ExecuteResult): void {
    const how = result.signal ? `killed by ${result.signal}` : `exit code ${String(result.exitCode)}`;
    switch (result.terminationReason) {
      case null:
        return;
      case 'cancel':
      case 'kill':
        if (this.interrupts > 0) this.term.note(`${result.terminationReason === 'cancel' ? 'cancelled' : 'killed'} (${how})`);
        else this.term.warn(`the command was ${result.terminationReason === 'cancel' ? 'cancelled' : 'killed'} by another client (${how})`);
        return;
      case 'timeout':
        this.term.warn(
          `the command reached its deadline (${formatDuration(result.timeout.requestedMs)}) and was terminated (${how}); see --timeout`,
        );
        return;
      case 'idle_timeout':
        this.term.warn(`the command printed nothing for ${formatDuration(result.timeout.idleTimeoutMs ?? 0)} and was terminated (${how})`);
        return;
      case 'shutdown':
        this.term.warn(`the server shut down and terminated the command (${how})`);
        return;
      default:
        this.term.warn(`the command was terminated: ${result.terminationReason} (${how})`);
    }
  }

  /** Our execution's id: from the progress stream, or (silent so far) the only execution of this session. */
  private async findExecutionId(): Promise<string | undefined> {
    if (this.executionId !== undefined) return this.executionId;
    const list = await this.conn.call('status', {}).catch(() => undefined);
    const mine = (list?.executions as Array<{ id: string }> | undefined) ?? [];
    if (mine.length === 1) this.executionId ??= mine[0]!.id;
    return this.executionId;
  }

  /** The first ending signal received: the client dies by it once the command is cancelled. */
  endedBy: EndingSignal | undefined;

  private async onInterrupt(sig: EndingSignal): Promise<void> {
    this.endedBy ??= sig;
    this.interrupts++;
    if (this.interrupts >= 3) {
      // Stop waiting: the connection closes with us and the server ends the command on disconnect.
      this.term.stopIndicator();
      this.term.note('gave up waiting; the server ends the command as this client disconnects');
      dieBySignal(this.endedBy, EXIT.INTERRUPTED);
      return;
    }
    const action = this.interrupts === 1 ? 'cancel' : 'kill';
    this.term.note(
      action === 'cancel' ? 'cancelling the command (Ctrl-C again to kill it)' : 'killing the command (Ctrl-C again to stop waiting)',
    );
    const id = await this.findExecutionId();
    if (id === undefined) {
      // Not started yet: MCP cancellation of the execute call.
      this.abort.abort();
      return;
    }
    try {
      await this.conn.call('control', { id, action }, { timeout: MAX_TIMER_MS });
    } catch (e) {
      if (!(e instanceof ToolError && e.code === 'INVALID_STATE'))
        this.term.note(`could not ${action} the command: ${(e as Error).message}`);
    }
  }

  private async onSuspend(): Promise<void> {
    if (this.suspending) return;
    this.suspending = true;
    try {
      const id = await this.findExecutionId();
      if (id !== undefined) {
        try {
          await this.conn.call('control', { id, action: 'pause' }, { timeout: PAUSE_TIMEOUT_MS });
          this.pausedRemote = true;
          this.term.note('paused the command; `fg` resumes it');
        } catch (e) {
          this.term.note(`could not pause the command: ${(e as Error).message}`);
        }
      }
      this.term.clearIndicator();
      // SIGSTOP, not a re-raised SIGTSTP: the latter is discarded in an orphaned process group.
      process.kill(process.pid, 'SIGSTOP');
    } finally {
      this.suspending = false;
    }
  }

  private async onContinue(): Promise<void> {
    if (!this.pausedRemote || this.executionId === undefined) return;
    this.pausedRemote = false;
    try {
      await this.conn.call('control', { id: this.executionId, action: 'resume' });
      this.term.note('resumed the command');
    } catch (e) {
      if (!(e instanceof ToolError && e.code === 'INVALID_STATE')) this.term.note(`could not resume the command: ${(e as Error).message}`);
    }
  }
}
