// ServerError codes mapped once to the original protocol's numeric JSON-RPC error codes.
import { ServerError, type ErrorCode } from '../src/errors.js';
import { LEGACY_ERRORS } from '../src/wire.js';

/** Every ServerError code, mapped once (a new code fails typecheck here until it is mapped). */
const CODE_FOR: Record<ErrorCode, number> = {
  INVALID_INPUT: LEGACY_ERRORS.INVALID_PARAMS,
  INVALID_CWD: LEGACY_ERRORS.INVALID_PARAMS,
  AMBIGUOUS_ID: LEGACY_ERRORS.INVALID_PARAMS,
  NOT_FOUND: LEGACY_ERRORS.NO_PROCESS,
  INVALID_STATE: LEGACY_ERRORS.NO_PROCESS,
  // The original answered -32602 "A process is already running" where we hit a per-connection limit.
  LIMIT_REACHED: LEGACY_ERRORS.INVALID_PARAMS,
  // What the original's -32001 meant: the command was refused before it ran.
  BLOCKED_BY_HOOK: LEGACY_ERRORS.COMMAND_NOT_ALLOWED,
  // The original's ALLOWED_COMMANDS refusal, done properly (the command policy).
  FORBIDDEN: LEGACY_ERRORS.COMMAND_NOT_ALLOWED,
  SPAWN_FAILED: LEGACY_ERRORS.INTERNAL_ERROR,
  RESOURCE_EXHAUSTED: LEGACY_ERRORS.INTERNAL_ERROR,
  SHUTTING_DOWN: LEGACY_ERRORS.INTERNAL_ERROR,
  // Like an unknown process to the original's clients, which never saw a history load after a start.
  HISTORY_LOADING: LEGACY_ERRORS.NO_PROCESS,
  INTERNAL: LEGACY_ERRORS.INTERNAL_ERROR,
};

export interface LegacyError {
  code: number;
  message: string;
  /** Our string code (and details) ride along, so a new client can tell errors apart. */
  data?: { code: ErrorCode } & Record<string, unknown>;
}

/** Map anything thrown by the engine to an original-protocol error. */
export function toLegacyError(error: unknown): LegacyError {
  const e = error instanceof ServerError ? error : new ServerError('INTERNAL', error instanceof Error ? error.message : String(error));
  const code = e.code === 'LIMIT_REACHED' && e.details?.limit === 'maxSessions' ? LEGACY_ERRORS.SESSION_LIMIT : CODE_FOR[e.code];
  return { code, message: e.message, data: { code: e.code, ...(e.details ?? {}) } };
}
