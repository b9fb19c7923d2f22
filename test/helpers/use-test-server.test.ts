// The shared server fixture cleans up by itself: what one test starts is gone when the next one begins.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alive } from './proc.js';
import { callTool, connectWs, structured } from './server.js';
import { useTestServer } from './use-test-server.js';

/** A background `sleep` on the client's server, its leader pid returned untracked (the fixture must end it anyway). */
async function backgroundSleep(client: Parameters<typeof callTool>[0]): Promise<{ id: string; pid: number }> {
  const s = structured(await callTool(client, 'execute', { command: 'sleep 300', background: true }));
  expect(s.state).toBe('running');
  return { id: s.id, pid: s.pid };
}

describe('useTestServer with a server per test', () => {
  const fx = useTestServer();
  const seen: { url?: string; pid?: number; dir?: string; extraUrl?: string; spawnedPid?: number } = {};

  it('starts servers, clients and temp dirs on demand', async () => {
    const client = await fx.serve({ graceMs: 500 });
    seen.url = fx.server.url;
    seen.pid = (await backgroundSleep(client)).pid;
    seen.dir = fx.tempDir('ccx-fixture-');
    expect(existsSync(seen.dir)).toBe(true);
    const extra = await fx.start();
    seen.extraUrl = extra.url;
    expect(fx.server).toBe(extra); // the server started last
    await fx.connect(extra.url);
    expect(alive(seen.pid)).toBe(true);
    const spawned = await fx.spawn();
    seen.spawnedPid = spawned.child.pid;
    expect(alive(seen.spawnedPid!)).toBe(true);
  });

  it('has closed every server, ended their executions and removed the temp dirs once the test ended', async () => {
    expect(alive(seen.pid!)).toBe(false);
    expect(alive(seen.spawnedPid!)).toBe(false);
    expect(existsSync(seen.dir!)).toBe(false);
    await expect(connectWs(seen.url!)).rejects.toThrow();
    await expect(connectWs(seen.extraUrl!)).rejects.toThrow();
    expect(() => fx.server).toThrow(/no test server/);
  });
});

describe('useTestServer with one server for the file', () => {
  const fx = useTestServer({ scope: 'file', config: { graceMs: 500 } });
  const seen: { pid?: number; id?: string } = {};

  it('serves the file before its first test', async () => {
    const started = await backgroundSleep(fx.client);
    Object.assign(seen, started);
    expect(alive(started.pid)).toBe(true);
  });

  it('kills what the previous test left running, and keeps serving', async () => {
    expect(alive(seen.pid!)).toBe(false);
    const s = structured(await callTool(fx.client, 'status', { id: seen.id! }));
    expect(s).toMatchObject({ state: 'exited', terminationReason: 'kill' });
    expect(structured(await callTool(fx.client, 'execute', { command: 'echo still here' })).stdout).toBe('still here\n');
  });
});
