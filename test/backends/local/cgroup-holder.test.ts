// A command held by its cgroup: escapes stay inside, terminate waits for everything, lingering members count.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CgroupHolder } from '../../../src/backends/local/cgroup-holder.js';
import { CgroupTree } from '../../../src/backends/local/cgroup-tree.js';
import { alive, eventually as waitFor } from '../../helpers/proc.js';

const dir = mkdtempSync(join(tmpdir(), 'cc-holder-'));
const found = CgroupTree.detect(dir);
const children: ChildProcess[] = [];
const holders: CgroupHolder[] = [];
afterEach(async () => {
  for (const h of holders.splice(0)) {
    h.kill();
    await h.waitGone(5_000);
  }
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(async () => {
  if (found.ok) await found.tree.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Run `script` in a fresh execution cgroup; every line it prints is a pid it started. */
function run(script: string): { holder: CgroupHolder; child: ChildProcess; pids: Promise<number[]>; out: () => string } {
  if (!found.ok) throw new Error(found.reason);
  const cg = found.tree.create(randomUUID());
  const { file, args } = cg.wrap('/bin/bash', ['-c', script]);
  const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += String(d)));
  const exit = new Promise((r) => child.once('exit', r));
  const holder = new CgroupHolder(cg, child.pid!, exit);
  holders.push(holder);
  const pids = (async () => {
    await waitFor(() => out.includes('ready'));
    return out
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  })();
  return { holder, child, pids, out: () => out };
}

/** Every escape the issue lists, in one command: each prints its pid, then the leader waits (TERM ignored). */
const ESCAPES = [
  'sleep 300 & echo $!', // grandchild
  'bash -c \'trap "" TERM; echo $$; while :; do sleep 1; done\' &', // TERM-ignoring
  "bash -c 'echo $$; kill -STOP $$' &", // paused
  "setsid bash -c 'echo $$; exec sleep 300' &", // setsid
  'bash -c \'bash -c "echo \\$\\$; exec sleep 300" &\' &', // double fork
  "nohup bash -c 'echo $$ >&3; exec sleep 300' 3>&1 >/dev/null 2>&1 &", // nohup &
].join('\n');

describe.skipIf(!found.ok)(`CgroupHolder${found.ok ? '' : ` (skipped: ${found.reason})`}`, () => {
  it('terminates every escape (grandchild, TERM-ignoring, paused, setsid, double fork, nohup) and only then resolves', async () => {
    const { holder, pids } = run(`${ESCAPES}\nsleep 0.3; echo ready; trap "" TERM; wait`);
    const started = await pids;
    expect(started).toHaveLength(6);
    expect(holder.memberCount()).toBeGreaterThanOrEqual(7);
    expect(await holder.terminate(300)).toBe(true);
    expect(started.filter(alive)).toEqual([]);
    expect(holder.isAlive()).toBe(false);
    expect(holder.memberCount()).toBe(0);
    expect(existsSync(holder.cgroup.path)).toBe(false);
  });

  it('keeps members a finished leader left behind until they are killed', async () => {
    const { holder, child, pids } = run(`${ESCAPES}\nsleep 0.3; echo ready; exit 0`);
    const started = await pids;
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    // Six escapes stay; the TERM-ignoring loop adds a short-lived `sleep 1` most of the time, so at least six.
    expect(started).toHaveLength(6);
    expect(await waitFor(() => holder.memberCount() >= 6)).toBe(true);
    expect(started.filter(alive)).toEqual(started);
    expect(holder.isAlive()).toBe(true);
    expect(holder.signal('SIGCONT')).toBe(true);
    holder.kill();
    expect(await holder.waitGone(10_000)).toBe(true);
    expect(started.filter(alive)).toEqual([]);
    expect(existsSync(holder.cgroup.path)).toBe(false);
  });

  it('removes the cgroup of a leader that left nothing behind as it exits, keeping its usage', async () => {
    const { holder, child } = run('i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exit 0');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    // The holder's own exit handler ran first (registered first): no poll, no wait.
    await Promise.resolve();
    expect(existsSync(holder.cgroup.path)).toBe(false);
    expect(holder.isAlive()).toBe(false);
    expect(holder.usage().cpuMs).toBeGreaterThan(0);
    expect(await holder.waitGone(0)).toBe(true);
  });

  it('pauses a setsid grandchild writing a counter by freezing, and resumes it', async () => {
    const counter = join(dir, `counter-${randomUUID()}`);
    const { holder } = run(`setsid bash -c 'i=0; while :; do i=$((i+1)); echo $i > ${counter}; sleep 0.02; done' & echo ready; wait`);
    const read = () => Number(existsSync(counter) ? readFileSync(counter, 'utf8').trim() || 0 : 0);
    expect(await waitFor(() => read() > 3)).toBe(true);
    await holder.pause();
    const at = read();
    await delay(300);
    expect(read()).toBe(at);
    await holder.resume();
    expect(await waitFor(() => read() > at + 3)).toBe(true);
    // Terminating a paused command works: it is thawed to receive TERM.
    await holder.pause();
    expect(await holder.terminate(2_000)).toBe(true);
  });

  it('reaches a leader that has not entered its cgroup yet, and keeps usage after the cgroup is removed', async () => {
    const { holder, pids } = run('i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo ready; sleep 300; true');
    expect(holder.isAlive()).toBe(true);
    await pids;
    expect(await waitFor(() => holder.memberCount() === 2)).toBe(true); // bash, sleep
    expect(await holder.terminate(2_000)).toBe(true);
    expect(holder.usage().cpuMs).toBeGreaterThan(0);

    const early = run('sleep 300');
    early.holder.kill(); // at once: the wrapper may not have entered yet
    expect(await early.holder.waitGone(10_000)).toBe(true);
  });
});
