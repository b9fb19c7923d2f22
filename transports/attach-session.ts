// attachSession: the one place a connection becomes a session, and the one owner of the transport contract.
import { isExecutionResourceUri } from '../tools/resources.js';
import { TERMINAL_APP_URI } from '../tools/terminal-app.js';
import type { Session, SessionCloseReason, SessionHooks, TransportKind } from '../src/sessions/session-registry.js';
import { shortId } from '../src/processes/execution-registry.js';
import { createSessionServer, type Engine } from './context.js';
import { McpGate, type GatedTransport } from './mcp-gate.js';

/**
 * What attachSession needs from a transport. The SDK's `Transport` has the first two; ours add
 * `onframe`, which every send path calls with the size of the frame it really writes (after
 * serialisation and framing) and a promise that settles once that frame is written. That is how the
 * session's FlowMeter sees every byte, whoever sends it (progress, results, pings, resource updates).
 */
export interface MeteredTransport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onframe?: ((bytes: number, written: Promise<unknown>) => void) | undefined;
  /** Optional: write one serialised JSON-RPC message as it is (see Session.sendFrame); it goes through onframe too. */
  sendFrame?: ((frame: Buffer, relatedRequestId?: string | number) => Promise<void>) | undefined;
}

/** A protocol bound to one session: the MCP server by default, the original protocol on legacy connections. */
export interface SessionProtocol<T> {
  connect(transport: T): Promise<void>;
}

export interface AttachOptions<T extends MeteredTransport> {
  kind: TransportKind;
  transport: T;
  /** Close the connection from the server side; the transport says how for each reason. */
  close: (reason: SessionCloseReason) => void;
  /** Called once the transport has closed and the session has ended. */
  onEnd?: () => void;
  /** Whether a client is connected now (Streamable HTTP: a request or stream is open); default always. */
  connected?: SessionHooks['connected'];
  /** Builds the protocol for the session; default: a new McpServer with our tools, behind an McpGate. */
  protocol?: (session: Session) => SessionProtocol<T>;
}

export interface AttachedSession<T> {
  session: Session;
  protocol: SessionProtocol<T>;
}

/**
 * Open a session for a connection and connect its protocol, in the order the contract needs:
 * the session is registered (LIMIT_REACHED is thrown before anything else happens), every frame is
 * metered, and `onclose` is set before connect() — the SDK chains our handler first, so the
 * registry records 'disconnect' before in-flight handlers are aborted.
 */
export async function attachSession<T extends MeteredTransport>(engine: Engine, opts: AttachOptions<T>): Promise<AttachedSession<T>> {
  const { transport } = opts;
  const sendFrame = transport.sendFrame?.bind(transport);
  const session = engine.sessions.open(opts.kind, opts.close, {
    ...(opts.connected ? { connected: opts.connected } : {}),
    ...(sendFrame ? { sendFrame } : {}),
  });
  transport.onframe = (bytes, written) => session.flow.track(bytes, written);
  let ended = false;
  transport.onclose = () => {
    if (ended) return;
    ended = true;
    void engine.sessions.end(session.id);
    opts.onEnd?.();
  };
  transport.onerror = (err) =>
    engine.logger.debug({ err: err.message, session: shortId(session.id), transport: opts.kind }, 'transport error');
  const protocol: SessionProtocol<T> = opts.protocol?.(session) ?? mcpProtocol<T>(engine, session);
  try {
    await protocol.connect(transport);
  } catch (e) {
    transport.onclose();
    throw e;
  }
  return { session, protocol };
}

/** The default protocol: the session's McpServer, which sees the transport only through an McpGate. */
function mcpProtocol<T extends MeteredTransport>(engine: Engine, session: Session): SessionProtocol<T> {
  const { mcp, toolNames } = createSessionServer(engine, session);
  return {
    connect: async (transport: T) => {
      const gate = new McpGate(transport as unknown as GatedTransport, { tools: toolNames, isResourceUri: isServedResourceUri });
      session.requestsInFlight = () => gate.requestsInFlight;
      await mcp.connect(gate);
    },
  };
}

/** The URIs a resources/read may name: executions, and the terminal MCP App (the SDK answers when it was not built). */
function isServedResourceUri(uri: string): boolean {
  return uri === TERMINAL_APP_URI || isExecutionResourceUri(uri);
}
