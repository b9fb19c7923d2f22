// The real server's log: readable lines on a terminal, JSON lines on a pipe, and a start line naming every endpoint.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN_JS, spawnServer, type ServerProcess } from './helpers/spawn-server.js';
import { waitFor } from './helpers/server.js';

let server: ServerProcess | undefined;
const dirs: string[] = [];
afterEach(() => {
  server?.kill();
  server = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('server log', () => {
  it('on a pipe, writes JSON lines; the start line names the WebSocket, /mcp, /health, /healthz, /metrics, the console, the data dir and the modes in effect', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-log-'));
    dirs.push(dataDir);
    server = await spawnServer(['--data-dir', dataDir]);
    const line = server
      .stderr()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, any>)
      .find((r) => String(r.msg).startsWith('listening on'))!;
    const base = server.url.replace(/^ws/, 'http').replace(/\/ws\/mcp$/, '');
    expect(line.endpoints).toEqual({
      websocket: server.url,
      mcp: `${base}/mcp`,
      health: `${base}/health`,
      healthz: `${base}/healthz`,
      metrics: `${base}/metrics`,
      console: `${base}/console`,
    });
    expect(line.dataDir).toBe(dataDir);
    // The modes are the ones in effect, as /health reports them (auto containment has chosen by now).
    const health = (await (await fetch(`${base}/health`)).json()) as { containment: { mode: string }; sandbox: { mode: string } };
    expect(health.containment.mode).toMatch(/^(cgroup|process-group)$/);
    expect({ containment: line.containment, sandbox: line.sandbox }).toEqual({
      containment: health.containment.mode,
      sandbox: health.sandbox.mode,
    });
    expect(line.msg).toBe(
      `listening on ${server.url} (data in ${dataDir}; containment ${health.containment.mode}, sandbox ${health.sandbox.mode})`,
    );
  });

  it('with --log-format pretty, writes readable lines without colours on a pipe', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-log-'));
    dirs.push(dataDir);
    server = await spawnServer(['--data-dir', dataDir, '--log-format', 'pretty']);
    expect(server.stderr()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening on ws:\/\/127\.0\.0\.1:\d+\/ws\/mcp \(data in /m);
    expect(server.stderr()).toMatch(/^ {4}endpoints\.metrics +http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
    expect(server.stderr()).not.toContain('\x1b[');
    expect(server.stderr()).not.toContain('{"level"');
  });

  it.skipIf(!existsSync('/usr/bin/script'))('on a terminal, writes readable lines by default', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-log-'));
    dirs.push(dataDir);
    // `script` gives the server a pseudo-terminal for its stderr.
    const cmd = `exec ${process.execPath} ${MAIN_JS} --port 0 --data-dir ${dataDir}`;
    const child = spawn('/usr/bin/script', ['-qfec', cmd, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    try {
      await waitFor(() => out.includes('endpoints.metrics'), 15_000, `pretty start line; got ${JSON.stringify(out)}`);
      expect(out).toMatch(/INFO {2}listening on ws:\/\//);
      expect(out).not.toContain('{"level"');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
