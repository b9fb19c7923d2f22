// The network front: one HTTP server for MCP over WebSocket (<wsPath>; the original protocol when no subprotocol
// is offered) and Streamable HTTP (<mcpPath>), health and metrics.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ServerError } from '../src/errors.js';
import { checkAccess, type Endpoint } from './access.js';
import { createSessionServer, type Engine } from './context.js';
import { checkHealth } from './health.js';
import { serveLegacyConnection } from './legacy.js';
import { StreamableHttpEndpoint } from './streamable-http.js';
import { CLOSE_CODES, WebSocketServerTransport } from './websocket.js';

export const MCP_SUBPROTOCOL = 'mcp';

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

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request's path, or undefined when its target is not a URL (`GET //` would otherwise throw). */
function pathOf(req: IncomingMessage): string | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** Refuse an upgrade with a plain HTTP response, before any WebSocket handshake. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export async function startNetworkServer(engine: Engine): Promise<NetworkServer> {
  const { config, logger } = engine;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxPayloadBytes,
    clientTracking: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(MCP_SUBPROTOCOL) ? MCP_SUBPROTOCOL : false),
  });
  let accepting = true;

  const mcp = new StreamableHttpEndpoint(engine);

  interface Route {
    endpoint: Endpoint;
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
    const path = pathOf(req);
    if (path === undefined) return writeJson(res, 400, { error: 'bad request target' });
    const route = routes.get(path);
    if (!route) {
      if (path === config.wsPath)
        return writeJson(res, 426, { error: 'upgrade required', detail: `connect with a WebSocket to ${config.wsPath}` });
      return writeJson(res, 404, { error: 'not found' });
    }
    // Every endpoint passes here: the one place an auth check decides.
    const denial = checkAccess(config, req, route.endpoint);
    if (denial) {
      for (const [name, value] of Object.entries(denial.headers ?? {})) res.setHeader(name, value);
      return writeJson(res, denial.status, denial.body);
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
    const path = pathOf(req);
    if (path === undefined) return refuseUpgrade(socket, 400, 'Bad Request', { error: 'bad request target' });
    if (path !== config.wsPath)
      return refuseUpgrade(socket, 404, 'Not Found', { error: `no WebSocket endpoint at ${path}; use ${config.wsPath}` });
    const denial = checkAccess(config, req, 'mcp');
    if (denial) return refuseUpgrade(socket, denial.status, 'Forbidden', denial.body);
    if (!accepting) return refuseUpgrade(socket, 503, 'Service Unavailable', { error: 'server is shutting down' });
    // No subprotocol offered: the original service's protocol (transports/legacy.ts). Its clients expect
    // the session limit as error -32003 then close 1008 on an open socket, so they are upgraded first.
    const legacy = req.headers['sec-websocket-protocol'] === undefined;
    if (engine.sessions.atLimit && !legacy) {
      return refuseUpgrade(socket, 503, 'Service Unavailable', {
        error: 'session limit reached',
        limit: 'maxSessions',
        maxSessions: config.maxSessions,
      });
    }
    wss.handleUpgrade(req, socket, head, (ws) => (legacy ? serveLegacyConnection(engine, ws) : void accept(ws, req)));
  });

  async function accept(ws: WebSocket, req: IncomingMessage): Promise<void> {
    let session;
    try {
      session = engine.sessions.open('websocket', (code, reason) => ws.close(code ?? CLOSE_CODES.GOING_AWAY, reason));
    } catch (e) {
      // Lost a race for the last slot after the upgrade check.
      ws.close(CLOSE_CODES.POLICY_VIOLATION, e instanceof ServerError ? e.message : 'refused');
      return;
    }
    const sessionId = session.id;
    const transport = new WebSocketServerTransport(ws, { sessionId, pingIntervalMs: config.pingIntervalMs, headers: req.headers });
    // Set before connect(): the SDK chains our onclose first, so 'disconnect' is recorded before handlers abort.
    transport.onclose = () => void engine.sessions.end(sessionId);
    transport.onerror = (err) => logger.debug({ err: err.message }, 'websocket transport error');
    ws.on('message', () => engine.sessions.touch(sessionId));
    const server = createSessionServer(engine, session);
    await server.connect(transport);
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
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
