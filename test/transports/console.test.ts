// /console over plain HTTP: the token-to-cookie step, the cookie as a credential with the Origin check intact, the files and headers.
import { describe, expect, it } from 'vitest';
import { consoleCookieValue } from '../../transports/gate.js';
import { http } from '../helpers/raw-http.js';
import { upgrade } from '../helpers/raw-ws.js';
import { useTestServer } from '../helpers/use-test-server.js';

const TOKEN = 'console-token-0123456789';

// Servers and clients a test starts are closed after it.
const fx = useTestServer();

/** The WebSocket upgrade's status: 101 when it opened. */
const upgradeStatus = async (url: string, headers: Record<string, string>) => (await upgrade(url, headers)).status;

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cookie', version: '0' } },
});

describe('console route', () => {
  it('turns ?token= into an HttpOnly SameSite=Strict cookie holding a value derived from the token, not the token', async () => {
    const server = await fx.start({ authToken: TOKEN });
    const base = server.net.baseUrl;
    const first = await http(`${base}/console?token=${TOKEN}`);
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.body).toContain('url=/console');
    const cookie = String(first.headers['set-cookie']);
    expect(cookie).toMatch(new RegExp(`^cc_executor_${server.net.port}=[^;]+; Path=/; HttpOnly; SameSite=Strict`));
    expect(cookie).not.toContain(TOKEN);
    expect(cookie).toContain(consoleCookieValue(TOKEN));
  });

  it('accepts the cookie as the token on every endpoint, and still refuses foreign Origins that carry it', async () => {
    const server = await fx.start({ authToken: TOKEN });
    const base = server.net.baseUrl;
    const port = server.net.port;
    const jar = { Cookie: `other=1; cc_executor_${port}=${consoleCookieValue(TOKEN)}` };
    expect((await http(`${base}/console`, { headers: jar })).status).toBe(200);
    expect((await http(`${base}/metrics`, { headers: jar })).status).toBe(200);
    const mcp = await http(`${base}/mcp`, {
      method: 'POST',
      headers: { ...jar, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: INIT,
    });
    expect(mcp.status).toBe(200);
    expect(await upgradeStatus(server.url, { ...jar, Origin: `http://127.0.0.1:${port}` })).toBe(101);
    // Another page on this machine shares the cookie (cookies ignore ports) but not the origin.
    expect(await upgradeStatus(server.url, { ...jar, Origin: `http://127.0.0.1:${port + 1}` })).toBe(403);
    expect(await upgradeStatus(server.url, { ...jar, Origin: 'https://evil.example' })).toBe(403);
    // The wrong cookie, a cookie for another port's server, or the raw token in the cookie: refused.
    expect(await upgradeStatus(server.url, { Cookie: `cc_executor_${port}=${consoleCookieValue('other-token')}` })).toBe(401);
    expect(await upgradeStatus(server.url, { Cookie: `cc_executor_${port + 1}=${consoleCookieValue(TOKEN)}` })).toBe(401);
    expect(await upgradeStatus(server.url, { Cookie: `cc_executor_${port}=${TOKEN}` })).toBe(401);
  });

  it('refuses the console without a credential: an HTML page for browsers, JSON for programs', async () => {
    const server = await fx.start({ authToken: TOKEN });
    const base = server.net.baseUrl;
    const page = await http(`${base}/console`, { headers: { Accept: 'text/html,application/xhtml+xml' } });
    expect(page.status).toBe(401);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('?token=');
    const json = await http(`${base}/console/assets/whatever.js`);
    expect(json.status).toBe(401);
    expect(JSON.parse(json.body)).toMatchObject({ error: 'unauthorized' });
    expect((await http(`${base}/console?token=wrong`)).headers['set-cookie']).toBeUndefined();
  });

  it('serves the built page with a strict CSP, its configured WebSocket path, hashed assets, and / leading to it', async () => {
    const server = await fx.start({ wsPath: '/custom/ws' });
    const base = server.net.baseUrl;
    const root = await http(`${base}/`);
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('/console');
    const page = await http(`${base}/console`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-eval');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toContain('<meta name="cc-executor-ws-path" content="/custom/ws"');
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    const asset = await http(`${base}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers['content-type']).toMatch(/^text\/javascript/);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await http(`${base}/console/../package.json`)).status).toBe(404);
    expect((await http(`${base}/console/.vite/manifest.json`)).status).toBe(404);
    expect((await http(`${base}/console/assets/nothing.js`)).status).toBe(404);
    expect((await http(`${base}/console`, { method: 'POST' })).status).toBe(405);
  });

  it('with console off: no page; on a loopback bind our own origin is still accepted, another port is not', async () => {
    const server = await fx.start({ console: false });
    const port = server.net.port;
    expect((await http(`${server.net.baseUrl}/console`)).status).toBe(404);
    expect(await upgradeStatus(server.url, { Origin: `http://127.0.0.1:${port === 1 ? 2 : port - 1}` })).toBe(403);
  });
});
