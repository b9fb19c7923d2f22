// Issue 15 items 9 and 12: the server's own loopback origin is accepted, others are not; timer values past setTimeout's range are refused.
import { describe, expect, it } from 'vitest';
import { INITIALIZE, postMcp } from '../helpers/raw-http.js';
import { callTool, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

// Servers and clients a test starts are closed after it.
const fx = useTestServer();

async function initStatus(url: string, headers: Record<string, string>): Promise<number> {
  return (await postMcp(url, INITIALIZE, headers)).status;
}

describe('Origin on a loopback bind', () => {
  it("accepts the server's own loopback origins and still refuses other origins and other ports", async () => {
    const server = await fx.start();
    const port = server.net.port;
    const url = server.net.httpUrl;
    expect(await initStatus(url, { origin: `http://127.0.0.1:${port}` })).toBe(200);
    expect(await initStatus(url, { origin: 'http://evil.example' })).toBe(403);
    expect(await initStatus(url, { origin: `http://127.0.0.1:${port + 1}` })).toBe(403);
    expect(await initStatus(url, { origin: `http://evil.example:${port}` })).toBe(403);
  });
});

describe('timer values', () => {
  it('refuses idleTimeoutMs and waitMs beyond setTimeout range instead of firing them at once', async () => {
    const server = await fx.start();
    const client = await fx.connect(server.url);
    for (const args of [{ idleTimeoutMs: 3e9 }, { waitMs: 3e9 }]) {
      const result = await callTool(client, 'execute', { command: 'sleep 1; echo done', ...args });
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(JSON.stringify(result.content)).toMatch(/2147483647/);
    }
    const ok = await callTool(client, 'execute', { command: 'echo ok', idleTimeoutMs: 2_147_483_647, waitMs: 2_147_483_647 });
    expect(structured(ok)).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
  });
});
