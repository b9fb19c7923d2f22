// The network gate over real sockets: token (header and query), Origin, Host, publicHealth, refusals before the upgrade.
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { callTool, structured, type TestServer } from '../helpers/server.js';
import { http } from '../helpers/raw-http.js';
import { upgrade } from '../helpers/raw-ws.js';
import { useTestServer } from '../helpers/use-test-server.js';

const TOKEN = 'test-token-0123456789abcdef';

// Servers and clients a test starts are closed after it.
const fx = useTestServer();

const get = (url: string, headers: Record<string, string> = {}) => http(url, { headers });

/** Send raw bytes, return what the server answered before closing. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (d) => (out += String(d)));
    socket.once('close', () => resolve(out));
    socket.once('error', reject);
    setTimeout(() => socket.end(), 2_000).unref();
  });
}

function httpBase(s: TestServer): string {
  return `http://127.0.0.1:${s.net.port}`;
}

describe('token authentication', () => {
  it('refuses the upgrade with 401 before any handshake when the token is missing or wrong', async () => {
    const server = await fx.start({ authToken: TOKEN });
    const none = await upgrade(server.url);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.parse(none.body)).toMatchObject({ error: 'unauthorized' });
    expect(none.body).not.toContain(TOKEN);
    expect((await upgrade(server.url, { Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await upgrade(server.url, { Authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await upgrade(server.url, { Authorization: `Basic ${TOKEN}` })).status).toBe(401);
    expect((await upgrade(`${server.url}?token=${TOKEN.slice(0, -1)}`)).status).toBe(401);
    expect((await upgrade(`${server.url}?token=`)).status).toBe(401);
    expect(server.engine.sessions.size).toBe(0);
  });

  it('accepts the token as a Bearer header (any case of the scheme) or as the token query parameter', async () => {
    const server = await fx.start({ authToken: TOKEN });
    expect((await upgrade(server.url, { Authorization: `Bearer ${TOKEN}` })).status).toBe(101);
    expect((await upgrade(server.url, { Authorization: `bearer ${TOKEN}` })).status).toBe(101);
    expect((await upgrade(`${server.url}?token=${TOKEN}`)).status).toBe(101);
  });

  it('lets the SDK WebSocket client in with ?token= and runs a command', async () => {
    const server = await fx.start({ authToken: TOKEN });
    await expect(fx.connect(server.url)).rejects.toThrow();
    const client = await fx.connect(`${server.url}?token=${encodeURIComponent(TOKEN)}`);
    const r = await callTool(client, 'execute', { argv: ['echo', 'authorised'] });
    expect(structured(r).stdout).toBe('authorised\n');
    await client.close();
  });

  it('guards every HTTP route, unknown ones included, and opens /health only with publicHealth', async () => {
    let server = await fx.start({ authToken: TOKEN });
    const base = httpBase(server);
    for (const path of ['/health', '/healthz', '/mcp', '/metrics', '/ws/mcp', '/nowhere']) {
      const r = await get(`${base}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect((await get(`${base}/health`, { Authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await get(`${base}/healthz?token=${TOKEN}`)).status).toBe(200);
    expect((await get(`${base}/nowhere?token=${TOKEN}`)).status).toBe(404);
    await server.close();

    server = await fx.start({ authToken: TOKEN, publicHealth: true });
    const open = httpBase(server);
    expect((await get(`${open}/health`)).status).toBe(200);
    expect((await get(`${open}/healthz`)).status).toBe(200);
    // publicHealth skips only the token: Origin and Host still apply, and nothing else opens.
    expect((await get(`${open}/healthz`, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await get(`${open}/healthz`, { Host: 'evil.example' })).status).toBe(403);
    expect((await get(`${open}/nowhere`)).status).toBe(401);
    expect((await get(`${open}/metrics`)).status).toBe(401);
    expect((await get(`${open}/mcp`)).status).toBe(401);
    expect((await upgrade(server.url)).status).toBe(401);
  });

  it('without a token configured, lets clients in that send no credentials', async () => {
    const server = await fx.start();
    expect((await upgrade(server.url)).status).toBe(101);
    expect((await get(`${httpBase(server)}/healthz`)).status).toBe(200);
  });
});

describe('Origin check', () => {
  it('refuses a WebSocket upgrade and HTTP requests from an Origin not in allowedOrigins, token or not', async () => {
    const server = await fx.start({ authToken: TOKEN });
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const r = await upgrade(server.url, { ...auth, Origin: 'https://evil.example' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'forbidden origin' });
    expect((await upgrade(server.url, { ...auth, Origin: 'null' })).status).toBe(403);
    // Another page on this machine (another port) is another origin; our own console's origin is tested in test/transports/console.test.ts.
    expect((await upgrade(server.url, { ...auth, Origin: `http://127.0.0.1:${server.net.port + 1}` })).status).toBe(403);
    expect((await get(`${httpBase(server)}/health`, { ...auth, Origin: 'https://evil.example' })).status).toBe(403);
    expect((await upgrade(server.url, auth)).status).toBe(101);
  });

  it('refuses a page on the open web even when no token is configured', async () => {
    const server = await fx.start();
    expect((await upgrade(server.url, { Origin: 'https://evil.example' })).status).toBe(403);
    expect(server.engine.sessions.size).toBe(0);
  });

  it('accepts Origins listed in allowedOrigins, compared without case or trailing slash', async () => {
    const server = await fx.start({ allowedOrigins: ['https://App.Example/'] });
    expect((await upgrade(server.url, { Origin: 'https://app.example' })).status).toBe(101);
    expect((await get(`${httpBase(server)}/healthz`, { Origin: 'https://app.example' })).status).toBe(200);
    expect((await upgrade(server.url, { Origin: 'https://app.example.evil.test' })).status).toBe(403);
    expect((await upgrade(server.url, { Origin: 'http://app.example' })).status).toBe(403);
  });
});

describe('Host check (DNS rebinding)', () => {
  it('accepts loopback names with any port and refuses other names', async () => {
    const server = await fx.start();
    const port = server.net.port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST', '127.0.0.1']) {
      expect((await upgrade(server.url, { Host: host })).status, host).toBe(101);
    }
    for (const host of [`evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io', 'localhost:80:80', '[::1']) {
      const r = await upgrade(server.url, { Host: host });
      expect(r.status, host).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'forbidden host' });
      expect((await get(`${httpBase(server)}/healthz`, { Host: host })).status, host).toBe(403);
    }
  });

  it('accepts names in allowedHosts: any port without one in the entry, that port with one', async () => {
    const server = await fx.start({ allowedHosts: ['my.box', 'other.box:9000'] });
    expect((await upgrade(server.url, { Host: 'my.box:1234' })).status).toBe(101);
    expect((await upgrade(server.url, { Host: 'MY.BOX' })).status).toBe(101);
    expect((await upgrade(server.url, { Host: 'other.box:9000' })).status).toBe(101);
    expect((await upgrade(server.url, { Host: 'other.box:9001' })).status).toBe(403);
    expect((await upgrade(server.url, { Host: 'sub.my.box' })).status).toBe(403);
  });
});

describe('hostile request lines', () => {
  it('answers an unparseable URL with 400 (401 with a token) and keeps serving', async () => {
    let server = await fx.start();
    const port = server.net.port;
    expect(await raw(port, 'GET http://[ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    const upgradeLine =
      'GET http://[ HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    expect(await raw(port, upgradeLine)).toMatch(/^HTTP\/1\.1 400/);
    expect((await get(`${httpBase(server)}/healthz`)).status).toBe(200);
    await server.close();

    server = await fx.start({ authToken: TOKEN });
    expect(await raw(server.net.port, 'GET http://[ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 401/);
    expect((await get(`${httpBase(server)}/healthz?token=${TOKEN}`)).status).toBe(200);
  });
});
