// The client side of the `cc-executor` bin: dispatches run/status/control/help and turns errors into messages and exit codes.
import { COMMANDS_USAGE, type ClientCommand } from './commands.js';
import type { CliContext } from './context.js';
import { CONTROL_HELP, runControl } from './control.js';
import { dieBySignal } from './die-by-signal.js';
import { CliError, EXIT, ToolError, UsageError } from './exit-codes.js';
import { MCP_CONFIG_HELP, runMcpConfig } from './mcp-config.js';
import { RUN_HELP, runRun } from './run.js';
import { STATUS_HELP, runStatus } from './status.js';
import { Terminal } from './terminal.js';

const HELP: Record<Exclude<ClientCommand, 'help'>, string> = {
  run: RUN_HELP,
  status: STATUS_HELP,
  control: CONTROL_HELP,
  'mcp-config': MCP_CONFIG_HELP,
};

/** Run a client command; resolves to the process exit code. */
export async function runClient(command: ClientCommand, args: string[], ctx: CliContext): Promise<number> {
  const json = wantsJson(args);
  try {
    switch (command) {
      case 'run':
        return await runRun(args, ctx);
      case 'status':
        return await runStatus(args, ctx);
      case 'control':
        return await runControl(args, ctx);
      case 'mcp-config':
        return runMcpConfig(args, ctx);
      case 'help': {
        const topic = args[0];
        if (topic === undefined || !(topic in HELP)) {
          if (topic !== undefined) throw new UsageError(`no help on ${JSON.stringify(topic)}: try run, status, control or mcp-config`);
          ctx.term.print(COMMANDS_USAGE.trimEnd());
          return EXIT.OK;
        }
        ctx.term.print(HELP[topic as keyof typeof HELP]);
        return EXIT.OK;
      }
    }
  } catch (e) {
    return reportError(e, command, json, ctx);
  }
}

/** --json before the command words (for `run`) or anywhere (the others): errors then come as JSON too. */
function wantsJson(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

function reportError(e: unknown, command: ClientCommand, json: boolean, ctx: CliContext): number {
  const err =
    e instanceof CliError ? e : new CliError(`unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, EXIT.REFUSED);
  let message = err instanceof ToolError ? `${err.code}: ${err.message}` : err.message;
  if (err instanceof ToolError && err.code === 'AMBIGUOUS_ID' && Array.isArray(err.details?.matches)) {
    message += `\n  candidates:\n${(err.details.matches as string[]).map((m) => `    ${m}`).join('\n')}`;
  }
  if (err instanceof UsageError) message += ` (see cc-executor ${command} --help)`;
  ctx.term.error(message);
  if (json) {
    ctx.term.printJson({
      type: 'error',
      error: {
        code: err.code,
        message: err.message,
        exitCode: err.exitCode,
        ...(err instanceof ToolError && err.details ? { details: err.details } : {}),
      },
    });
  }
  return err.exitCode;
}

export function createCliContext(): CliContext {
  return {
    term: new Terminal({ stdout: process.stdout, stderr: process.stderr, env: process.env }),
    env: process.env,
    cwd: process.cwd(),
    stdin: process.stdin,
  };
}

/** Entry from main.ts: run the command and exit with its code. A reader that goes away (`| head`) ends us like SIGPIPE would. */
export async function main(command: ClientCommand, args: string[]): Promise<never> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(128 + 13);
    throw e;
  });
  const ctx = createCliContext();
  const code = await runClient(command, args, ctx);
  // A pipe takes writes asynchronously: exiting before it drained would cut the output.
  await ctx.term.drained();
  // Interrupted by a signal (the remote command is cancelled by now): die by it, as shells expect.
  if (ctx.endedBy) dieBySignal(ctx.endedBy, code);
  else process.exit(code);
  return await new Promise<never>(() => undefined);
}
