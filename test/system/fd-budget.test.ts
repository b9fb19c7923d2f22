// File descriptors run out: the real server under a 256-descriptor limit refuses requests with a stable code and never crashes.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countOpenFds, deriveMaxExecutions, FdBudget, readFdLimits } from '../../src/system/fd-budget.js';
import { ServerError } from '../../src/errors.js';
import { callTool, connectWs, GroupTracker, structured, waitFor } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';
import { execFileSync } from 'node:child_process';

const LIMIT = ['prlimit', '--nofile=256:256'];
let proc: ServerProcess | undefined;
const clients: Client[] = [];
const sockets: Socket[] = [];
const dirs: string[] = [];
const groups = new GroupTracker();

let prlimitWorks = true;
beforeAll(() => {
  try {
    execFileSync('prlimit', ['--nofile=256:256', 'true']);
  } catch {
    prlimitWorks = false;
  }
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  if (proc) {
    proc.child.kill('SIGTERM');
    const exited = await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (!exited) proc.kill();
    proc = undefined;
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  await groups.expectGroupsGone(10_000);
});

async function client(url: string): Promise<Client> {
  const c = await connectWs(url);
  clients.push(c);
  return c;
}

function baseUrl(p: ServerProcess): string {
  return p.url.replace(/^ws:/, 'http:').replace(/\/ws\/mcp$/, '');
}

function serverFds(p: ServerProcess): number {
  return readdirSync(`/proc/${p.child.pid}/fd`).length;
}

function isUp(p: ServerProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

describe('descriptor budget (unit)', () => {
  it('reads the limit and the count of this process, and derives maxExecutions at five descriptors each', () => {
    const limits = readFdLimits();
    expect(limits?.soft).toBeGreaterThan(0);
    expect(countOpenFds()).toBeGreaterThan(2);
    expect(deriveMaxExecutions(256, 100)).toBe(Math.floor((256 - 64 - 100) / 5));
    expect(deriveMaxExecutions(1024, 100)).toBe(172);
    expect(deriveMaxExecutions(1_048_576, 100)).toBe(256);
    expect(deriveMaxExecutions(100, 100)).toBe(1);
    expect(deriveMaxExecutions(Infinity, 100)).toBe(256);
  });
});

describe('descriptor budget: when starts count /proc/self/fd', () => {
  function counting(inUse: () => number) {
    let reads = 0;
    return {
      reads: () => reads,
      count: () => {
        reads++;
        return inUse();
      },
    };
  }

  it('admits starts far from the limit on a recent count, without reading the descriptors again', () => {
    const c = counting(() => 40);
    const budget = new FdBudget({ soft: 20_000, hard: 20_000 }, c.count);
    for (let i = 0; i < 5; i++) budget.checkSpawn()();
    expect(c.reads()).toBe(1);
  });

  it('counts again at every start near the limit, and refuses the start that would eat into the headroom', () => {
    let open = 200;
    const c = counting(() => open);
    // Fewer than 1024 descriptors to spare after a start and the headroom: near enough that no count is reused.
    const budget = new FdBudget({ soft: 200 + 8 + 24 + 1000, hard: 2048 }, c.count);
    budget.checkSpawn()();
    budget.checkSpawn()();
    expect(c.reads()).toBe(2);
    open = 1210;
    let refused: unknown;
    try {
      budget.checkSpawn();
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(ServerError);
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: { resource: 'fileDescriptors', inUse: 1210 } });
    expect(c.reads()).toBe(3);
  });

  it('counts again once reserved starts bring a recent count near the limit', () => {
    const c = counting(() => 100);
    // Far enough for a start on the count alone, not with the first start's reservation (8) still held.
    const budget = new FdBudget({ soft: 100 + 8 + 24 + 1024 + 4, hard: 4096 }, c.count);
    const first = budget.checkSpawn();
    budget.checkSpawn();
    expect(c.reads()).toBe(2);
    first();
  });
});

describe('running out of file descriptors', () => {
  it('derives maxExecutions from a 256-descriptor limit and shows the budget in /health', async (ctx) => {
    if (!prlimitWorks) ctx.skip();
    proc = await spawnServer([], {}, { wrapper: LIMIT });
    const health: any = await (await fetch(`${baseUrl(proc)}/health`)).json();
    expect(health.maxExecutions).toBe(deriveMaxExecutions(256, 100));
    expect(health.fileDescriptors).toMatchObject({ limit: 256, hardLimit: 256, perExecution: 5 });
    expect(health.fileDescriptors.inUse).toBeGreaterThan(5);
    expect(health.fileDescriptors.inUse).toBeLessThan(100);
  }, 60_000);

  it('refuses executions past the budget with RESOURCE_EXHAUSTED, stays up, and another session carries on', async (ctx) => {
    if (!prlimitWorks) ctx.skip();
    proc = await spawnServer(['--max-executions', '1000', '--max-executions-per-session', '1000'], {}, { wrapper: LIMIT });
    const flooder = await client(proc.url);
    const other = await client(proc.url);
    const ids: string[] = [];
    let refusal: any;
    for (let i = 0; i < 200 && !refusal; i++) {
      const r = await callTool(flooder, 'execute', { argv: ['sleep', '60'], background: true });
      if (r.isError) refusal = structured(r).error;
      else {
        groups.addResult(r);
        ids.push(structured(r).id);
      }
    }
    expect(refusal).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: { resource: 'fileDescriptors', limit: 256 } });
    expect(ids.length).toBeGreaterThanOrEqual(20);
    // A burst of concurrent starts: each is started or refused with the same code, and the server stays up.
    const burst = await Promise.all(
      Array.from({ length: 40 }, () => callTool(flooder, 'execute', { argv: ['sleep', '60'], background: true })),
    );
    for (const r of burst) {
      if (r.isError) expect(structured(r).error.code).toBe('RESOURCE_EXHAUSTED');
      else {
        groups.addResult(r);
        ids.push(structured(r).id);
      }
    }
    expect(isUp(proc)).toBe(true);
    expect(serverFds(proc)).toBeLessThanOrEqual(256);
    // Starts in progress hold a reservation for a moment: once they settle, fill up to a refusal again.
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 400));
      const r = await callTool(flooder, 'execute', { argv: ['sleep', '60'], background: true });
      if (r.isError) break;
      groups.addResult(r);
      ids.push(structured(r).id);
    }
    const health: any = await (await fetch(`${baseUrl(proc)}/health`)).json();
    expect(health.status, JSON.stringify(health)).toBe('degraded');
    expect(health.reasons.join(' ')).toMatch(/file descriptors nearly exhausted/);

    // The other session still answers, and once some executions end it can start its own.
    expect(structured(await callTool(other, 'status', {})).executions).toBeDefined();
    for (const id of ids.slice(0, 5)) await callTool(flooder, 'control', { id, action: 'cancel' });
    await waitFor(
      async () => !(await callTool(other, 'execute', { argv: ['echo', 'still here'] })).isError,
      20_000,
      'another session to run a command',
    );
    expect(structured(await callTool(other, 'execute', { argv: ['echo', 'still here'] })).stdout).toBe('still here\n');
    expect(proc.stderr()).not.toMatch(/uncaught exception/);
  }, 120_000);

  it('survives a spawn that meets EMFILE outside any request (a postExecute hook) instead of exiting', async (ctx) => {
    if (!prlimitWorks) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'cc-executor-fd-'));
    dirs.push(dir);
    const hooks = JSON.stringify({ postExecute: [{ command: 'true' }] });
    proc = await spawnServer(['--hooks', hooks], {}, { wrapper: LIMIT });
    const c = await client(proc.url);
    const go = join(dir, 'go');
    const started = await callTool(c, 'execute', { command: `while [ ! -e ${go} ]; do sleep 0.05; done`, background: true });
    groups.addResult(started);
    // Take every descriptor the server has left: each connection it accepts holds one.
    const port = Number(new URL(proc.url).port);
    for (let i = 0; i < 300; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await waitFor(() => serverFds(proc!) >= 250, 20_000, 'the server to run out of descriptors');
    // The command exits now; its postExecute hook cannot be spawned.
    writeFileSync(go, '');
    // The hook run fails with the OS's reason, logged and counted like any failed hook, and nothing is uncaught.
    const hookFailed = () =>
      proc!
        .stderr()
        .split('\n')
        .some((l) => l.includes('hook failed') && /could not start [^"]*: (EMFILE|ENFILE|RESOURCE_EXHAUSTED)/.test(l));
    await waitFor(hookFailed, 20_000, 'the failed hook spawn');
    for (const s of sockets.splice(0)) s.destroy();
    expect(isUp(proc)).toBe(true);
    await waitFor(async () => (await fetch(`${baseUrl(proc!)}/healthz`).catch(() => undefined))?.ok === true, 20_000, '/healthz');
    expect(structured(await callTool(c, 'execute', { argv: ['echo', 'alive'] })).stdout).toBe('alive\n');
    expect(proc.stderr()).not.toMatch(/uncaught exception/);
  }, 120_000);
});
