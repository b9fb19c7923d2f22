// The client subcommand names and the command list for `cc-executor --help`: tiny, so the server can import it.
export const CLIENT_COMMANDS = ['run', 'status', 'control', 'mcp-config', 'help'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

export function isClientCommand(word: string | undefined): word is ClientCommand {
  return (CLIENT_COMMANDS as readonly string[]).includes(word ?? '');
}

/** Client flags that take no value: the word after one of them may be the subcommand. */
const CLIENT_BOOLEAN_FLAGS = new Set([
  '--json',
  '--help',
  '-h',
  '--shell',
  '--argv',
  '--background',
  '--stdin',
  '--interactive',
  '-i',
  '--tty',
  '-t',
  '-it',
  '-ti',
  '--follow',
  '-f',
  '--history',
]);

/**
 * The client subcommand and its arguments, also when options come first (`cc-executor --cwd X run ...`):
 * those options are moved after the subcommand word. undefined when argv is not a client command.
 */
export function clientInvocation(argv: string[]): { command: ClientCommand; args: string[] } | undefined {
  const [first, ...rest] = argv;
  if (isClientCommand(first)) return { command: first, args: rest };
  if (!first?.startsWith('-')) return undefined;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return undefined;
    const previous = argv[i - 1];
    const isValue = previous !== undefined && previous.startsWith('-') && !previous.includes('=') && !CLIENT_BOOLEAN_FLAGS.has(previous);
    if (isValue) continue;
    if (isClientCommand(word)) return { command: word, args: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    if (!word.startsWith('-')) return undefined;
  }
  return undefined;
}

/** Shown above the server's option list in `cc-executor --help`, and by `cc-executor help`. */
export const COMMANDS_USAGE = `Usage: cc-executor [serve] [options]            run the server (the default)
       cc-executor run [options] [--] COMMAND...  run a command on a server, output live, its exit code ours
       cc-executor status [options] [ID]          list executions, or show / --follow one
       cc-executor control ID ACTION [SIGNAL]     pause, resume, cancel, kill or signal an execution
       cc-executor mcp-config [--ws|--all]        print an MCP client entry with absolute paths (.mcp.json)
       cc-executor help [COMMAND]                 help on a client command

Client options may come before the subcommand too (cc-executor --url URL run ...).
Client commands connect to CC_EXECUTOR_URL (default ws://127.0.0.1:8003/ws/mcp) with CC_EXECUTOR_TOKEN.
`;
