// Per test file: a global WebSocket on Node 20, a throwaway state directory so no test writes to the user's home,
// and a check that nothing the file started (servers, commands, hooks: all inherit that directory's variable)
// outlives it.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll } from 'vitest';
import WebSocket from 'ws';

// Node 20 has no global WebSocket; the SDK's WebSocketClientTransport needs one.
if (!('WebSocket' in globalThis)) {
  (globalThis as Record<string, unknown>).WebSocket = WebSocket;
}

// A server started without --data-dir (stdio tests, the CLI) writes to $XDG_STATE_HOME/cc-executor.
const stateHome = mkdtempSync(join(tmpdir(), 'cc-executor-state-'));
process.env.XDG_STATE_HOME = stateHome;

/** Live processes whose environment carries this file's XDG_STATE_HOME: everything the file's tests started. */
function startedHere(): { pid: number; what: string }[] {
  const marker = Buffer.from(`\0XDG_STATE_HOME=${stateHome}\0`);
  const found: { pid: number; what: string }[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      // A leading NUL so the first variable matches too; a zombie's environ reads empty.
      if (!Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${name}/environ`)]).includes(marker)) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid, what: `${pid} (${cmd}) cwd ${readlinkSync(`/proc/${name}/cwd`)}` });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

// Runs after the file's own afterAll hooks (vitest runs "after" hooks in reverse order of registration).
afterAll(async () => {
  // Servers and their executions end asynchronously (grace periods): give them time before calling it a leak.
  const until = Date.now() + 20_000;
  let left = startedHere();
  while (left.length > 0 && Date.now() < until) {
    await delay(100);
    left = startedHere();
  }
  rmSync(stateHome, { recursive: true, force: true });
  if (left.length === 0) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL'); // so that one failure does not go on burning the machine
    } catch {
      // already gone
    }
  }
  throw new Error(`processes started by this test file outlived it:\n${left.map((p) => p.what).join('\n')}`);
}, 30_000);
