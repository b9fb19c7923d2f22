// The network front: one HTTP server that upgrades GET <wsPath> to MCP-over-WebSocket and answers health probes.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ServerError } from '../src/errors.js';
import { SERVICE_NAME, VERSION } from '../src/version.js';
import { createSessionServer, type Engine } from './context.js';
import { CLOSE_CODES, WebSocketServerTransport } from './websocket.js';

export const MCP_SUBPROTOCOL = 'mcp';

export interface NetworkServer {
  readonly port: number;
  readonly url: string;
  /** Stop accepting connections (existing ones stay until closed). */
  stopAccepting(): void;
  /** Close every connection with 1001 and the listener. */
  close(): Promise<void>;
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Refuse an upgrade with a plain HTTP response, before any WebSocket handshake. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, body: unknown): void {
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export function healthBody(engine: Engine) {
  const counts = engine.executions.counts();
  const load = engine.load.current();
  return {
    status: 'ok',
    service: SERVICE_NAME,
    version: VERSION,
    uptimeSeconds: Math.round((Date.now() - engine.serverStartedAt) / 1000),
    sessions: engine.sessions.size,
    executions: { running: counts.running, paused: counts.paused, detached: counts.background },
    load: { cpu: load.cpu, gpu: load.gpu, multiplier: load.multiplier },
  };
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

  const http: Server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/healthz') return writeJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/health') return writeJson(res, 200, healthBody(engine));
    if (path === config.wsPath)
      return writeJson(res, 426, { error: 'upgrade required', detail: `connect with a WebSocket to ${config.wsPath}` });
    writeJson(res, 404, { error: 'not found' });
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== config.wsPath)
      return refuseUpgrade(socket, 404, 'Not Found', { error: `no WebSocket endpoint at ${path}; use ${config.wsPath}` });
    if (!accepting) return refuseUpgrade(socket, 503, 'Service Unavailable', { error: 'server is shutting down' });
    if (engine.sessions.atLimit) {
      return refuseUpgrade(socket, 503, 'Service Unavailable', {
        error: 'session limit reached',
        limit: 'maxSessions',
        maxSessions: config.maxSessions,
      });
    }
    wss.handleUpgrade(req, socket, head, (ws) => void accept(ws, req));
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
    stopAccepting() {
      accepting = false;
      http.close();
    },
    async close() {
      accepting = false;
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
