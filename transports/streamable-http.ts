// MCP over Streamable HTTP at /mcp: the SDK's transport behind our own SSE writer, stateful, one McpServer and one session per client.
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerError } from '../src/errors.js';
import { shortId } from '../src/processes/execution-registry.js';
import type { Session } from '../src/sessions/session-registry.js';
import { HTTP_TRANSPORT_ERRORS, JSONRPC_ERRORS, MCP_SESSION_HEADER } from '../src/wire.js';
import { attachSession } from './attach-session.js';
import type { Engine } from './context.js';
import { HttpSessionTransport } from './http-session-transport.js';

const { SERVER_ERROR, SESSION_NOT_FOUND } = HTTP_TRANSPORT_ERRORS;

interface HttpSession {
  session: Session;
  transport: HttpSessionTransport;
}

function writeRpcError(res: ServerResponse, status: number, code: number, message: string, data?: unknown): void {
  const text = JSON.stringify({ jsonrpc: '2.0', error: { code, message, ...(data !== undefined ? { data } : {}) }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * How long the rest of a refused body is read and dropped. Closing a socket with unread input makes the
 * kernel send a reset, and a client still sending (curl after 100-continue, any client that writes its
 * whole body before it reads) then sees EPIPE/ECONNRESET instead of the 413. Past this, it is cut off.
 */
const DRAIN_REFUSED_BODY_MS = 10_000;

/** Read a request body up to `limit` bytes; undefined when it is larger (the rest is left flowing, unread). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    // Not `for await`: leaving it early destroys the request, and with it the socket the 413 goes out on.
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      stop();
      resolve(undefined);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      stop();
      reject(e);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Answer 413 for a body over `limit` and read the rest of it out (dropping it), so that the client gets the
 * answer instead of a reset. On a kept-alive connection the answer goes first (a client that reads while
 * sending stops early) and the connection then serves the next request; on one that closes after the answer,
 * the answer waits for the body's end. Either way for at most DRAIN_REFUSED_BODY_MS.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
  const answer = () => writeRpcError(res, 413, SERVER_ERROR, `Payload Too Large: more than maxPayloadBytes (${limit})`);
  if (req.complete) return answer();
  const socket = req.socket;
  const cutOff = setTimeout(() => {
    if (!res.headersSent) answer();
    socket.destroy();
  }, DRAIN_REFUSED_BODY_MS);
  cutOff.unref();
  const done = () => clearTimeout(cutOff);
  req.once('end', done);
  req.once('close', done);
  req.resume();
  if (res.shouldKeepAlive) return answer();
  req.once('end', () => {
    if (!res.headersSent) answer();
  });
}

export class StreamableHttpEndpoint {
  private readonly sessions = new Map<string, HttpSession>();
  private accepting = true;

  constructor(private readonly engine: Engine) {}

  get size(): number {
    return this.sessions.size;
  }

  /** New sessions are refused with 503 from now on; open ones keep working. */
  stopAccepting(): void {
    this.accepting = false;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (err) {
      this.engine.logger.warn({ err }, 'streamable HTTP request failed');
      if (!res.headersSent) writeRpcError(res, 500, SERVER_ERROR, 'Internal server error');
      else res.destroy();
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const header = req.headers[MCP_SESSION_HEADER];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId !== undefined) {
      const entry = this.sessions.get(sessionId);
      // 404 tells a client its session is gone (ended, expired, server restarted) and it must initialize again.
      if (!entry) return writeRpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
      // A body declared too large is refused here, read out as above (the SDK's own check leaves it unread).
      const { maxPayloadBytes } = this.engine.config;
      if (Number(req.headers['content-length']) > maxPayloadBytes) return refuseTooLarge(req, res, maxPayloadBytes);
      // Activity for the idle sweep: when a request starts and when its response ends (a long call counts).
      this.engine.sessions.touch(sessionId);
      res.once('close', () => this.engine.sessions.touch(sessionId));
      if (req.method !== 'POST') return entry.transport.handleNodeRequest(req, res);
      // Read here, bounded: a chunked body's size is only known as it comes.
      const body = await readBody(req, maxPayloadBytes);
      if (body === undefined) return refuseTooLarge(req, res, maxPayloadBytes);
      return entry.transport.handleNodeRequest(req, res, body);
    }
    if (req.method !== 'POST') return writeRpcError(res, 400, SERVER_ERROR, 'Bad Request: Mcp-Session-Id header is required');

    // Only an initialize request may come without a session id: read the body to know.
    const body = await readBody(req, this.engine.config.maxPayloadBytes);
    if (body === undefined) return refuseTooLarge(req, res, this.engine.config.maxPayloadBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return writeRpcError(res, 400, JSONRPC_ERRORS.PARSE_ERROR, 'Parse error: Invalid JSON');
    }
    const messages: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    if (!messages.some((m) => isInitializeRequest(m))) {
      return writeRpcError(res, 400, SERVER_ERROR, 'Bad Request: Mcp-Session-Id header is required');
    }
    return this.initialize(req, res, parsed);
  }

  private async initialize(req: IncomingMessage, res: ServerResponse, parsed: unknown): Promise<void> {
    const { engine } = this;
    if (!this.accepting) return writeRpcError(res, 503, SERVER_ERROR, 'Service Unavailable: the server is shutting down');
    let session: Session | undefined;
    const transport = new HttpSessionTransport({
      // The registry's id is the MCP session id: one id in logs, status and the Mcp-Session-Id header.
      sessionIdGenerator: () => session!.id,
      onsessioninitialized: (id) => void this.sessions.set(id, { session: session!, transport }),
      maxRequestBodySize: engine.config.maxPayloadBytes,
    });
    try {
      // Closing comes from DELETE, Session.close() (idle expiry, shutdown) or a refused initialize.
      ({ session } = await attachSession(engine, {
        kind: 'http',
        transport,
        close: () => void transport.close(),
        connected: () => transport.connected,
        onEnd: () => {
          this.sessions.delete(session!.id);
          engine.logger.debug({ session: shortId(session!.id) }, 'streamable HTTP session closed');
        },
      }));
    } catch (e) {
      if (!(e instanceof ServerError)) throw e;
      return writeRpcError(res, 503, SERVER_ERROR, `Service Unavailable: session limit reached: ${e.message}`, {
        limit: 'maxSessions',
        maxSessions: engine.config.maxSessions,
      });
    }
    try {
      await transport.handleNodeRequest(req, res, undefined, parsed);
    } finally {
      // The SDK refused the initialize before giving it a session (wrong Accept or Content-Type...), or it threw:
      // nothing to keep, and the registry slot is freed.
      if (transport.sessionId === undefined) await transport.close();
    }
  }

  /** Close every session (shutdown): their non-background executions end with reason 'disconnect'. */
  async closeAll(): Promise<void> {
    this.accepting = false;
    await Promise.all([...this.sessions.values()].map((e) => e.transport.close()));
  }
}
