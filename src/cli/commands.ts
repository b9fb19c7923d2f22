// The client subcommand names and the command list for `cc-executor --help`: tiny, so the server can import it.
export const CLIENT_COMMANDS = ['run', 'status', 'control', 'mcp-config', 'help'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

export function isClientCommand(word: string | undefined): word is ClientCommand {
  return (CLIENT_COMMANDS as readonly string[]).includes(word ?? '');
}

/** Shown above the server's option list in `cc-executor --help`, and by `cc-executor help`. */
export const COMMANDS_USAGE = `Usage: cc-executor [serve] [options]            run the server (the default)
       cc-executor run [options] [--] COMMAND...  run a command on a server, output live, its exit code ours
       cc-executor status [options] [ID]          list executions, or show / --follow one
       cc-executor control ID ACTION [SIGNAL]     pause, resume, cancel, kill or signal an execution
       cc-executor mcp-config [--ws|--all]        print an MCP client entry with absolute paths (.mcp.json)
       cc-executor help [COMMAND]                 help on a client command

Client commands connect to CC_EXECUTOR_URL (default ws://127.0.0.1:8003/ws/mcp) with CC_EXECUTOR_TOKEN.
`;
