// The network front: one HTTP server for MCP over WebSocket (<wsPath>; the original protocol when no subprotocol
// is offered) and Streamable HTTP (<mcpPath>), health and metrics.
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ServerError } from '../src/errors.js';
import { CLOSE_CODES, MCP_SUBPROTOCOL } from '../src/wire.js';
import { attachSession } from './attach-session.js';
import type { Engine } from './context.js';
import { checkBind, checkGate, isLoopbackBind, redactHeaders, requestPath, type GateEndpoint, type GateVerdict } from './gate.js';
import { ConsoleAssets, consoleRefusalPage } from './console-assets.js';
import { checkHealth } from './health.js';
import { serveLegacyConnection } from './legacy.js';
import { StreamableHttpEndpoint } from './streamable-http.js';
import { SESSION_CLOSE_FRAMES, WebSocketServerTransport } from './websocket.js';

export interface NetworkServer {
  readonly port: number;
  /** The WebSocket endpoint. */
  readonly url: string;
  /** The Streamable HTTP endpoint. */
  readonly httpUrl: string;
  /** http://host:port, for /health, /healthz, /metrics. */
  readonly baseUrl: string;
  /** Stop accepting connections (existing ones stay until closed). */
  stopAccepting(): void;
  /** Close every connection (WebSocket with 1001, Streamable HTTP sessions) and the listener. */
  close(): Promise<void>;
}

function writeJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Refuse an upgrade with a plain HTTP response, before any WebSocket handshake. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${extra}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export async function startNetworkServer(engine: Engine): Promise<NetworkServer> {
  const { config, logger } = engine;
  const bindProblem = checkBind(config);
  if (bindProblem) throw new Error(bindProblem);
  // Logged without the URL: its query string may carry the token.
  const logRefusal = (req: IncomingMessage, verdict: Extract<GateVerdict, { ok: false }>, path: string | undefined) =>
    logger.info({ status: verdict.status, reason: verdict.body.error, path, remote: req.socket.remoteAddress }, 'request refused');
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxPayloadBytes,
    clientTracking: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(MCP_SUBPROTOCOL) ? MCP_SUBPROTOCOL : false),
  });
  let accepting = true;

  const mcp = new StreamableHttpEndpoint(engine);
  const consoleAssets = config.console ? new ConsoleAssets(config.wsPath) : undefined;

  interface Route {
    endpoint: GateEndpoint;
    methods: string[];
    handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
  }
  const routes = new Map<string, Route>([
    [config.mcpPath, { endpoint: 'mcp', methods: ['GET', 'POST', 'DELETE'], handle: (req, res) => mcp.handle(req, res) }],
    ['/healthz', { endpoint: 'health', methods: ['GET', 'HEAD'], handle: (_req, res) => writeJson(res, 200, { status: 'ok' }) }],
    [
      '/health',
      {
        endpoint: 'health',
        methods: ['GET', 'HEAD'],
        handle: async (_req, res) => writeJson(res, 200, await checkHealth(engine, { shuttingDown: !accepting })),
      },
    ],
    [
      '/metrics',
      {
        endpoint: 'metrics',
        methods: ['GET', 'HEAD'],
        handle: async (_req, res) => {
          const text = await engine.metrics.render();
          res.writeHead(200, { 'content-type': engine.metrics.contentType, 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
      },
    ],
  ]);

  const http: Server = createHttpServer(async (req, res) => {
    const path = requestPath(req);
    const route = path === undefined ? undefined : routes.get(path);
    const isConsole = consoleAssets !== undefined && path !== undefined && ConsoleAssets.owns(path);
    // Every request passes the gate first (Host, Origin, token), unknown paths included: /health and
    // /healthz may skip the token with publicHealth, anything else needs it.
    const verdict = checkGate(req, config, route?.endpoint ?? (isConsole ? 'console' : 'mcp'));
    if (!verdict.ok) {
      logRefusal(req, verdict, path);
      // A person at a browser gets a page that says what to do; programs get JSON.
      if (isConsole && /text\/html/.test(req.headers.accept ?? '')) {
        const page = consoleRefusalPage(verdict.status, verdict.body.detail);
        res.writeHead(verdict.status, {
          ...verdict.headers,
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(page),
        });
        return void res.end(page);
      }
      return writeJson(res, verdict.status, verdict.body, verdict.headers);
    }
    if (path === undefined) return writeJson(res, 400, { error: 'bad request target' });
    if (isConsole) {
      try {
        return await consoleAssets.handle(req, res, path, config.authToken);
      } catch (err) {
        logger.error({ err, path }, 'console request failed');
        if (!res.headersSent) return writeJson(res, 500, { error: 'internal error' });
        return void res.destroy();
      }
    }
    if (!route) {
      if (path === config.wsPath)
        return writeJson(res, 426, { error: 'upgrade required', detail: `connect with a WebSocket to ${config.wsPath}` });
      return writeJson(res, 404, { error: 'not found' });
    }
    if (!route.methods.includes(req.method ?? '')) {
      res.setHeader('allow', route.methods.join(', '));
      return writeJson(res, 405, { error: `method ${req.method} not allowed on ${path}` });
    }
    try {
      await route.handle(req, res);
    } catch (err) {
      logger.error({ err, path }, 'HTTP handler failed');
      if (!res.headersSent) writeJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const path = requestPath(req);
    const verdict = checkGate(req, config);
    if (!verdict.ok) {
      logRefusal(req, verdict, path);
      return refuseUpgrade(socket, verdict.status, STATUS_CODES[verdict.status]!, verdict.body, verdict.headers);
    }
    if (path === undefined) return refuseUpgrade(socket, 400, 'Bad Request', { error: 'bad request target' });
    if (path !== config.wsPath)
      return refuseUpgrade(socket, 404, 'Not Found', { error: `no WebSocket endpoint at ${path}; use ${config.wsPath}` });
    if (!accepting) return refuseUpgrade(socket, 503, 'Service Unavailable', { error: 'server is shutting down' });
    // No subprotocol offered: the original service's protocol (transports/legacy.ts). Its clients expect
    // the session limit as error -32003 then close 1008 on an open socket, so they are upgraded first.
    const legacy = req.headers['sec-websocket-protocol'] === undefined;
    if (engine.sessions.refuses('websocket') && !legacy) {
      return refuseUpgrade(socket, 503, 'Service Unavailable', {
        error: 'session limit reached',
        limit: 'maxSessions',
        maxSessions: config.maxSessions,
      });
    }
    wss.handleUpgrade(req, socket, head, (ws) => (legacy ? serveLegacyConnection(engine, ws, socket) : void accept(ws, req)));
  });

  async function accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    // Before anything can fail: an 'error' without a listener (invalid UTF-8 from the peer) would throw.
    ws.on('error', () => undefined);
    let session;
    const transport = new WebSocketServerTransport(ws, {
      pingIntervalMs: config.pingIntervalMs,
      headers: redactHeaders(req.headers),
      framesPerSecond: config.wsFramesPerSecond,
      errorBudget: config.wsErrorBudget,
      onflood: () =>
        logger.warn({ remote: req.socket.remoteAddress, budget: config.wsErrorBudget }, 'closing a connection that floods errors'),
    });
    try {
      ({ session } = await attachSession(engine, {
        kind: 'websocket',
        transport,
        close: (reason) => void transport.close(SESSION_CLOSE_FRAMES[reason].code, SESSION_CLOSE_FRAMES[reason].text),
      }));
    } catch (e) {
      // Lost a race for the last slot after the upgrade check.
      ws.close(CLOSE_CODES.POLICY_VIOLATION, e instanceof ServerError ? e.message : 'refused');
      return;
    }
    const sessionId = session.id;
    // The SDK hands it to handlers as extra.sessionId; messages are read only from the next macrotask on.
    transport.sessionId = sessionId;
    ws.on('message', () => engine.sessions.touch(sessionId));
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  // After listen, an 'error' is an accept() that failed (EMFILE/ENFILE when descriptors run out): without a
  // listener Node would throw it and end the process; the client's connection is dropped, the server goes on.
  http.on('error', (err) => logger.warn({ err: err.message }, 'accepting a connection failed'));
  const port = (http.address() as AddressInfo).port;
  if (config.authToken === undefined) {
    logger.warn(
      { host: config.host },
      isLoopbackBind(config.host)
        ? 'no authToken configured: any local process can connect and run commands (set CC_EXECUTOR_TOKEN to require a token)'
        : 'no authToken configured and --insecure-no-auth given: ANYONE who can reach this address can run commands',
    );
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  return {
    port,
    url: `ws://${host}:${port}${config.wsPath}`,
    httpUrl: `http://${host}:${port}${config.mcpPath}`,
    baseUrl: `http://${host}:${port}`,
    stopAccepting() {
      accepting = false;
      mcp.stopAccepting();
      http.close();
    },
    async close() {
      accepting = false;
      await mcp.closeAll();
      for (const ws of wss.clients) ws.close(CLOSE_CODES.GOING_AWAY, 'server shutting down');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 1_000);
        timer.unref();
        wss.close(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
