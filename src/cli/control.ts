// `cc-executor control ID ACTION [SIGNAL]`: pause, resume, cancel, kill or signal an execution's process group.
import { checkIdArg, COMMON_HELP, COMMON_OPTIONS, parseDuration, parseOptions } from './args.js';
import { Connection, resolveTarget } from './connect.js';
import type { CliContext } from './context.js';
import { EXIT, UsageError } from './exit-codes.js';
import { describeState, type ExecutionSummary } from './format.js';

const CONTROL_OPTIONS = {
  ...COMMON_OPTIONS,
  grace: { type: 'string' },
} as const;

const ACTIONS = ['pause', 'resume', 'cancel', 'kill', 'signal'] as const;
type Action = (typeof ACTIONS)[number];

export const CONTROL_HELP = `Usage: cc-executor control [options] ID pause|resume|cancel|kill|signal SIG

Act on an execution's whole process group (grandchildren included). ID may be a unique prefix of at
least 4 characters.
  pause          SIGSTOP the group          resume       SIGCONT the group
  cancel         SIGTERM, then SIGKILL after the grace period
  kill           SIGKILL now                signal SIG   send SIG (SIGHUP, USR1, INT...)

Options:
  --grace DUR        For cancel: time between SIGTERM and SIGKILL [server default: 5s]
${COMMON_HELP.join('\n')}

Prints the execution's new state (with --json: the whole state object).`;

export async function runControl(args: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseOptions(args, CONTROL_OPTIONS, true);
  if (values.help === true) {
    ctx.term.print(CONTROL_HELP);
    return EXIT.OK;
  }
  const usage = 'cc-executor control ID pause|resume|cancel|kill|signal SIG';
  const [rawId, rawAction, signal, ...extra] = positionals;
  const id = checkIdArg(rawId, usage);
  if (rawAction === undefined) throw new UsageError(`missing action (${usage})`);
  const action = rawAction.toLowerCase() as Action;
  if (!ACTIONS.includes(action)) throw new UsageError(`unknown action ${JSON.stringify(rawAction)} (${usage})`);
  if (action === 'signal' && signal === undefined) throw new UsageError('signal needs a signal name, e.g. control ID signal SIGINT');
  if ((action !== 'signal' && signal !== undefined) || extra.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(action === 'signal' ? extra[0] : signal)} (${usage})`);
  }
  if (values.grace !== undefined && action !== 'cancel') throw new UsageError('--grace applies to cancel only');
  const request: Record<string, unknown> = { id, action };
  if (signal !== undefined) request.signal = signal;
  if (typeof values.grace === 'string') request.graceMs = parseDuration(values.grace, '--grace');

  const target = resolveTarget({ url: values.url as string | undefined, token: values.token as string | undefined }, ctx.env);
  const conn = await Connection.open(target);
  let answer: Record<string, unknown>;
  try {
    // cancel waits for the group to die (grace + a little): allow for it.
    const graceMs = typeof request.graceMs === 'number' ? request.graceMs : 0;
    answer = await conn.call('control', request, { timeout: 30_000 + graceMs });
  } finally {
    await conn.close();
  }
  if (values.json === true) ctx.term.printJson(answer);
  else
    ctx.term.print(`${String(answer.id)} ${action}${signal ? ` ${signal}` : ''}: ${describeState(answer as unknown as ExecutionSummary)}`);
  return EXIT.OK;
}
