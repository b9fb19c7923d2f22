// One domain error type with a closed set of string codes, mapped once to MCP tool results.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Every code a tool error can carry. docs/errors.md's table is checked against this list (test/docs.test.ts). */
export const ERROR_CODES = {
  INVALID_INPUT: 'The request is well-typed but makes no sense (both or neither of command/argv, empty argv...)',
  NOT_FOUND: 'No execution has this id (or id prefix)',
  AMBIGUOUS_ID: 'The id prefix matches more than one execution',
  INVALID_STATE: "The action does not apply in the execution's current state (resume a running one, pause an exited one)",
  INVALID_CWD: 'cwd does not exist or is not a directory',
  SPAWN_FAILED: 'The operating system could not start the command (executable missing, not executable...)',
  LIMIT_REACHED: 'A configured limit (executions, sessions, executions per minute) is reached; details.limit names it',
  RESOURCE_EXHAUSTED:
    'The server is short of an operating-system resource (file descriptors, processes) to start the command; details.resource names it. Retry once executions end',
  BLOCKED_BY_HOOK: 'A preExecute hook refused the command (exit 2, its stderr is the reason) or failed with failClosed; it never ran',
  FORBIDDEN: 'The command policy refuses the request (allowedCommands, deniedCommands, allowedCwdRoots); details.policy names the rule',
  SHUTTING_DOWN: 'The server is stopping and accepts no new executions',
  HISTORY_LOADING:
    'The server started moments ago and is still loading its saved records: this id may be among them. Retry shortly (details.records: records loaded so far)',
  INTERNAL: 'An unexpected server fault; the message says more',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ServerError extends Error {
  override name = 'ServerError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Map anything thrown by the engine to a tool error result that keeps a machine-readable code. */
export function toToolError(error: unknown): CallToolResult {
  const e = error instanceof ServerError ? error : new ServerError('INTERNAL', error instanceof Error ? error.message : String(error));
  return {
    isError: true,
    content: [{ type: 'text', text: `${e.code}: ${e.message}` }],
    structuredContent: { error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } },
  };
}
