// The built server started with no SHLVL and a planted HOME: no ~/.bashrc runs for commands, stdin executions or hooks.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { callTool, connectWs, GroupTracker, structured } from '../../helpers/server.js';
import { spawnServer, type ServerProcess } from '../../helpers/spawn-server.js';

const home = mkdtempSync(join(tmpdir(), 'cc-executor-home-'));
writeFileSync(join(home, '.bashrc'), 'echo BASHRC-RAN\necho BASHRC-RAN >&2\n');
writeFileSync(join(home, '.bash_profile'), 'echo PROFILE-RAN\n');
afterAll(() => rmSync(home, { recursive: true, force: true }));

let srv: ServerProcess | undefined;
let client: Client | undefined;
const groups = new GroupTracker();
afterEach(async () => {
  await client?.close();
  client = undefined;
  srv?.kill();
  await srv?.exited;
  srv = undefined;
  await groups.expectGroupsGone();
});

describe('a server started without SHLVL (systemd, Docker, cron, setsid)', () => {
  it('never runs the ~/.bashrc of its HOME for commands, stdin executions, interactive ones or hooks', async () => {
    // A preExecute hook run by the shell with the request on stdin: any extra line on its stdout breaks its JSON.
    const hooks = JSON.stringify({ preExecute: [{ command: 'cat >/dev/null; echo "{}"' }], postExecute: [{ command: 'cat >/dev/null' }] });
    srv = await spawnServer(['--hooks', hooks], { HOME: home, SHLVL: undefined });
    client = await connectWs(srv.url);
    const requests: Array<Record<string, unknown>> = [
      { command: 'echo plain' },
      { command: 'cat; echo', stdin: 'piped' },
      { argv: ['bash', '-c', 'cat; echo'], stdin: 'argv' },
      { command: 'read -r x; echo "got $x"', interactive: true, stdin: 'open\n' },
      { command: 'echo on-a-terminal', pty: true },
    ];
    for (const args of requests) {
      const result = await callTool(client, 'execute', { waitMs: 20_000, ...args });
      groups.addResult(result);
      const s = structured(result);
      expect(s.state, JSON.stringify(args)).toBe('exited');
      expect(s.exitCode).toBe(0);
      expect(JSON.stringify(result), JSON.stringify(args)).not.toMatch(/BASHRC-RAN|PROFILE-RAN/);
      expect(s.hookWarnings).toEqual([]);
    }
  });
});
