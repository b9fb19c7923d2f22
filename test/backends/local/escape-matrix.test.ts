// The escape matrix: every way a command's processes try to outlive it, against every way an execution ends,
// for each containment mode this machine offers. Under cgroups nothing survives; under process groups only
// the documented escape (a setsid child) does, until a restart's recovery finds it by its execution-id marker.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { callTool, connectWs, startTestServer, structured, waitFor } from '../../helpers/server.js';
import { spawnServer, type ServerProcess } from '../../helpers/spawn-server.js';
import { alive } from '../../helpers/proc.js';
import { containmentModes } from '../../helpers/containment-modes.js';

const ESCAPES = fileURLToPath(new URL('../../fixtures/escapes.sh', import.meta.url));
const KINDS = ['grandchild', 'term-ignoring', 'paused', 'setsid', 'double-fork', 'nohup'];
/** What a process group cannot hold (documented in docs/containment.md). */
const PROCESS_GROUP_ESCAPES = ['setsid'];

const MODES = await containmentModes();

const work = mkdtempSync(join(tmpdir(), 'cc-matrix-'));
const everyPid = new Set<number>();
afterAll(() => {
  for (const pid of everyPid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

/** A fresh pid file and the command that fills it; `tail` is what the leader does after. */
function escapeCommand(tail: string): { file: string; command: string; env: Record<string, string> } {
  const file = join(work, randomUUID());
  return { file, command: `bash ${ESCAPES}; ${tail}`, env: { F: file } };
}

async function started(file: string): Promise<Map<string, number>> {
  const read = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  await waitFor(() => read().length === KINDS.length, 15_000, `${KINDS.length} escapes to start`);
  const pids = new Map(read().map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1])] as const));
  for (const pid of pids.values()) everyPid.add(pid);
  return pids;
}

/** Kinds still alive once the others are gone (bounded wait), then the survivors are killed. */
async function survivors(pids: Map<string, number>, expected: string[]): Promise<string[]> {
  const left = () => [...pids].filter(([, pid]) => alive(pid)).map(([k]) => k);
  await waitFor(() => left().every((k) => expected.includes(k)), 15_000, 'escapes to be gone').catch(() => undefined);
  const out = left().sort();
  for (const k of out) process.kill(pids.get(k)!, 'SIGKILL');
  return out;
}

describe.each(MODES)('containment %s', (mode) => {
  const expected = mode === 'cgroup' ? [] : [...PROCESS_GROUP_ESCAPES].sort();

  it('holds every escape through exit, cancel, kill, timeout, idle timeout, MCP cancellation and disconnect', async () => {
    const server = await startTestServer({ containment: mode, graceMs: 300 });
    try {
      const main = await connectWs(server.url);
      const cases: Record<string, () => Promise<string[]>> = {
        async exit() {
          const c = await connectWs(server.url);
          const e = escapeCommand('exit 0');
          const r = structured(await callTool(c, 'execute', { command: e.command, env: e.env }));
          const pids = await started(e.file);
          expect(r.exitCode).toBe(0);
          // The leader is gone, its members linger and are shown until the session releases them.
          const s = structured(await callTool(c, 'status', { id: r.id }));
          expect(s.lingeringMembers).toBeGreaterThanOrEqual(KINDS.length - expected.length);
          await c.close();
          return survivors(pids, expected);
        },
        async cancel() {
          const e = escapeCommand('trap "" TERM; sleep 300');
          const r = structured(await callTool(main, 'execute', { command: e.command, env: e.env, background: true }));
          const pids = await started(e.file);
          const res = structured(await callTool(main, 'control', { id: r.id, action: 'cancel', graceMs: 300 }));
          expect(res).toMatchObject({ state: 'exited', terminationReason: 'cancel' });
          // Under cgroups the answer comes once everything is gone.
          if (mode === 'cgroup') expect([...pids.values()].filter(alive)).toEqual([]);
          return survivors(pids, expected);
        },
        async kill() {
          const e = escapeCommand('sleep 300');
          const r = structured(await callTool(main, 'execute', { command: e.command, env: e.env, background: true }));
          const pids = await started(e.file);
          const res = structured(await callTool(main, 'control', { id: r.id, action: 'kill' }));
          expect(res).toMatchObject({ state: 'exited', terminationReason: 'kill' });
          if (mode === 'cgroup') expect([...pids.values()].filter(alive)).toEqual([]);
          return survivors(pids, expected);
        },
        async timeout() {
          const e = escapeCommand('sleep 300');
          const r = structured(await callTool(main, 'execute', { command: e.command, env: e.env, timeoutMs: 3_000 }));
          expect(r.terminationReason).toBe('timeout');
          return survivors(await started(e.file), expected);
        },
        async idle() {
          const e = escapeCommand('sleep 300');
          const r = structured(await callTool(main, 'execute', { command: e.command, env: e.env, idleTimeoutMs: 3_000 }));
          expect(r.terminationReason).toBe('idle_timeout');
          return survivors(await started(e.file), expected);
        },
        async mcpCancel() {
          const e = escapeCommand('sleep 300');
          const ac = new AbortController();
          const call = main.callTool({ name: 'execute', arguments: { command: e.command, env: e.env } }, undefined, { signal: ac.signal });
          const pids = await started(e.file);
          ac.abort();
          await call.catch(() => undefined);
          return survivors(pids, expected);
        },
        async disconnect() {
          const c = await connectWs(server.url);
          const e = escapeCommand('sleep 300');
          void callTool(c, 'execute', { command: e.command, env: e.env }).catch(() => undefined);
          const pids = await started(e.file);
          await c.close();
          return survivors(pids, expected);
        },
      };
      const results = await Promise.all(Object.entries(cases).map(async ([path, run]) => [path, await run()] as const));
      expect(Object.fromEntries(results)).toEqual(Object.fromEntries(Object.keys(cases).map((p) => [p, expected])));
      await main.close();
    } finally {
      await server.close();
    }
  }, 90_000);

  it('holds every escape through shutdown, and through SIGKILL of the server and a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-matrix-data-'));
    const servers: ServerProcess[] = [];
    try {
      const run = async (end: 'shutdown' | 'sigkill'): Promise<string[]> => {
        const dir = join(dataDir, end);
        const proc = await spawnServer(['--data-dir', dir, '--containment', mode, '--grace-ms', '300']);
        servers.push(proc);
        const c = await connectWs(proc.url);
        const e = escapeCommand('sleep 300');
        await callTool(c, 'execute', { command: e.command, env: e.env, background: true });
        const pids = await started(e.file);
        if (end === 'shutdown') {
          proc.child.kill('SIGTERM');
          await proc.exited;
          return survivors(pids, expected);
        }
        proc.child.kill('SIGKILL');
        await proc.exited;
        // The fork server sees its server die and kills at once what a shutdown would: what it cannot reach (a setsid
        // escape from a process group) is left for the next server on the same data dir, which finds it by its marker.
        const aliveKinds = () => [...pids].filter(([, pid]) => alive(pid)).map(([k]) => k);
        await waitFor(() => aliveKinds().every((k) => expected.includes(k)), 15_000).catch(() => undefined);
        expect(aliveKinds().sort()).toEqual(expected);
        const next = await spawnServer(['--data-dir', dir, '--containment', mode, '--grace-ms', '300']);
        servers.push(next);
        const left = await survivors(pids, []);
        // The summary line comes once the history has loaded, after listening: wait for it.
        const summary = new RegExp(`dead servers left 1 execution\\(s\\), ${expected.length > 0 ? 1 : 0} still running \\(killed\\)`);
        await waitFor(() => summary.test(next.stderr()), 30_000).catch(() => undefined);
        expect(next.stderr()).toMatch(summary);
        next.child.kill('SIGTERM');
        await next.exited;
        return left;
      };
      const [shutdown, sigkill] = await Promise.all([run('shutdown'), run('sigkill')]);
      expect(shutdown).toEqual(expected);
      // Recovery finds even a setsid child by the execution-id marker it inherited.
      expect(sigkill).toEqual([]);
    } finally {
      for (const s of servers) s.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
