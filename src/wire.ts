// The wire contract shared by the server and its clients (CLI, console): _meta keys, JSON-RPC codes, close codes. Imports nothing.

/** `_meta` keys of our progress notifications (the SDK client's onprogress receives `_meta` intact). */
export const META_KIND = 'cc-executor/kind';
export const META_STREAM = 'cc-executor/stream';
export const META_EXECUTION = 'cc-executor/executionId';
export const META_SEQ = 'cc-executor/seq';

/** The WebSocket subprotocol of MCP (the SDK's WebSocket client offers it); no subprotocol = the original protocol. */
export const MCP_SUBPROTOCOL = 'mcp';

/** The header that carries a Streamable HTTP session id. */
export const MCP_SESSION_HEADER = 'mcp-session-id';

/** JSON-RPC 2.0's own error codes: the same meaning in every protocol we speak. */
export const JSONRPC_ERRORS = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

/**
 * Codes in the implementation-defined range (-32000 to -32099) mean different things per protocol, so
 * each protocol gets its own table and no name is shared between them.
 */
export const MCP_ERRORS = {
  /** The MCP spec's "resource not found" (resources/read of an unknown URI). */
  RESOURCE_NOT_FOUND: -32002,
} as const;

/** Streamable HTTP refusals at the HTTP level: the codes of the SDK's own transport, which clients know. */
export const HTTP_TRANSPORT_ERRORS = {
  /** Any HTTP-level refusal (no session id, shutting down, session limit, body too large). */
  SERVER_ERROR: -32000,
  /** With HTTP 404: the session is gone, initialize again. */
  SESSION_NOT_FOUND: -32001,
} as const;

/** The original protocol (a WebSocket without subprotocol): JSON-RPC's codes plus its own three. */
export const LEGACY_ERRORS = {
  ...JSONRPC_ERRORS,
  /** The command was refused before it ran (policy, preExecute hook, empty command). */
  COMMAND_NOT_ALLOWED: -32001,
  /** No such process, or not in a state the request applies to. */
  NO_PROCESS: -32002,
  SESSION_LIMIT: -32003,
} as const;

/** WebSocket close codes we send (RFC 6455 section 7.4.1). 1006 is reserved for "no close frame" and never sent. */
export const CLOSE_CODES = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  /** The server is overloaded (RFC 6455 registry: "Try Again Later"). */
  TRY_AGAIN_LATER: 1013,
} as const;
