// The fork server with real processes: commands spawned from the small helper, their pipes, exits and errors, and
// what happens when the helper or its owner dies.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ForkServer } from '../../../src/backends/local/fork-server.js';
import { LocalBackend } from '../../../src/backends/local/local-backend.js';
import type { ProcessHandle } from '../../../src/backends/backend.js';
import { alive, eventually } from '../../helpers/proc.js';

const servers: ForkServer[] = [];
const handles: ProcessHandle[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) h.kill();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

function started(): ForkServer {
  const fs = new ForkServer();
  servers.push(fs);
  fs.start();
  return fs;
}

function collect(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    stream.on('close', () => resolve(text));
  });
}

const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

async function run(fs: ForkServer, script: string, stdin?: string) {
  const s = await fs.spawn({ file: '/bin/sh', args: ['-c', script], cwd: '/', env: ENV, stdin: stdin !== undefined });
  pids.push(s.pid);
  if (stdin !== undefined) s.stdin!.end(stdin);
  const [out, err, exit] = await Promise.all([collect(s.stdout), collect(s.stderr), s.exit]);
  return { pid: s.pid, out, err, exit };
}

function anonKiB(pid: number): number {
  return Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

describe('ForkServer (real processes)', () => {
  it('runs commands one after another with their stdout, stderr, exit code and a session of their own', async () => {
    const fs = started();
    // More than the pool holds, so both the pooled pipes and the ones sent with the answer are used.
    for (let i = 0; i < 12; i++) {
      const r = await run(
        fs,
        `echo out${i}; echo err${i} >&2; [ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] || echo not-a-session; exit ${i % 3}`,
      );
      expect(r).toMatchObject({ out: `out${i}\n`, err: `err${i}\n`, exit: { exitCode: i % 3, signal: null } });
    }
    // Commands that print nothing and end at once: their pipes still close (none ends unseen before it is read).
    for (let i = 0; i < 6; i++) expect(await run(fs, 'true')).toMatchObject({ out: '', err: '', exit: { exitCode: 0 } });
  });

  it('runs a burst of concurrent commands, each with its own output', async () => {
    const fs = started();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => run(fs, `sleep 0.$((${i} % 3)); printf '%s' ${i}; printf e${i} >&2`)),
    );
    results.forEach((r, i) => expect(r).toMatchObject({ out: String(i), err: `e${i}`, exit: { exitCode: 0 } }));
  });

  it('gives a command the stdin the server writes, and /dev/null when it asks for none', async () => {
    const fs = started();
    expect((await run(fs, 'tr a-z A-Z', 'hello stdin\n')).out).toBe('HELLO STDIN\n');
    expect((await run(fs, 'cat; echo done')).out).toBe('done\n');
    // A large input goes through in full (back-pressure on the socket, nothing dropped).
    const big = 'x'.repeat(3 * 1024 * 1024);
    expect((await run(fs, 'wc -c', big)).out.trim()).toBe(String(big.length));
  });

  it('streams a large output in full', async () => {
    const fs = started();
    const r = await run(fs, 'head -c 20000000 /dev/zero | tr "\\0" a');
    expect(r.out.length).toBe(20_000_000);
  });

  it('refuses a program that cannot start with its errno, and carries on', async () => {
    const fs = started();
    await expect(fs.spawn({ file: '/no/such/program', args: [], cwd: '/', env: ENV, stdin: false })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expect(fs.spawn({ file: '/tmp', args: [], cwd: '/', env: ENV, stdin: false })).rejects.toMatchObject({ code: 'EACCES' });
    await expect(fs.spawn({ file: '/bin/true', args: [], cwd: '/no/such/dir', env: ENV, stdin: false })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect((await run(fs, 'echo still here')).out).toBe('still here\n');
  });

  it('is smaller than this process: what a fork copies', async () => {
    const fs = started();
    await run(fs, 'true');
    // The helper's anonymous memory, not the test runner's (vitest plus the loaded modules), is what a fork copies.
    expect(anonKiB(fs.pid!)).toBeLessThan(anonKiB(process.pid));
    expect(anonKiB(fs.pid!)).toBeLessThan(40 * 1024);
  });

  it("clears the pool directories of fork servers that were SIGKILLed, and no other's", async () => {
    const dead = spawn('/bin/true');
    const deadPid = await new Promise<number>((resolve) => dead.once('exit', () => resolve(dead.pid!)));
    const stale = mkdtempSync(join(tmpdir(), `cc-executor-fork-${deadPid}-`));
    const live = mkdtempSync(join(tmpdir(), `cc-executor-fork-${process.pid}-`));
    try {
      const fs = started();
      await run(fs, 'true');
      expect(await eventually(() => !existsSync(stale), 10_000)).toBe(true);
      expect(existsSync(live)).toBe(true);
      // Its own directory goes when it is closed.
      const own = readdirSync(tmpdir()).filter((n) => n.startsWith(`cc-executor-fork-${fs.pid}-`));
      expect(own).toHaveLength(1);
      await fs.close();
      expect(await eventually(() => !existsSync(join(tmpdir(), own[0]!)), 10_000)).toBe(true);
    } finally {
      rmSync(stale, { recursive: true, force: true });
      rmSync(live, { recursive: true, force: true });
    }
  });

  it('when the helper dies, its running commands are killed, their exit reads SIGKILL, and the next spawn starts a new one', async () => {
    const fs = started();
    const s = await fs.spawn({ file: '/bin/sh', args: ['-c', 'sleep 300 & sleep 300; wait'], cwd: '/', env: ENV, stdin: false });
    pids.push(s.pid);
    const first = fs.pid!;
    process.kill(first, 'SIGKILL');
    expect(await s.exit).toEqual({ exitCode: null, signal: 'SIGKILL' });
    expect(await eventually(() => !alive(s.pid))).toBe(true);
    expect((await run(fs, 'echo again')).out).toBe('again\n');
    expect(fs.pid).not.toBe(first);
  });

  it('close resolves only once the helper has exited (it kills cgroups under the level as it goes)', async () => {
    // An engine closed and started again in the same process has the same pid, so the same cgroup level: a helper
    // still shutting down then would kill the new engine's cgroups (once, a test worker forking through one).
    const fs = started();
    await run(fs, 'true');
    const helper = fs.pid!;
    expect(alive(helper)).toBe(true);
    await fs.close();
    expect(alive(helper)).toBe(false);
    await fs.close(); // again: nothing left to wait for
  });

  it('when its owner dies (SIGKILL), the helper kills every command still running and exits', async () => {
    // An owner process of its own (the built module: the helper script is plain JS), killed without any cleanup.
    const module = fileURLToPath(new URL('../../../dist/src/backends/local/fork-server.js', import.meta.url));
    const script = `
      const { ForkServer } = await import(${JSON.stringify(module)});
      const fs = new ForkServer();
      const s = await fs.spawn({ file: '/bin/sh', args: ['-c', 'sleep 300 & exec sleep 300'], cwd: '/', env: process.env, stdin: false });
      console.log(JSON.stringify({ helper: fs.pid, command: s.pid }));
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => owner.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const { helper, command } = JSON.parse(line) as { helper: number; command: number };
    pids.push(command);
    expect(alive(command)).toBe(true);
    owner.kill('SIGKILL');
    const gone = await eventually(() => !alive(helper) && !alive(command));
    expect(gone).toBe(true);
  });
});

describe('LocalBackend with the fork server', () => {
  it('runs a command through the backend: pipes, process group, signals, exit', async () => {
    const backend = new LocalBackend({ shell: '/bin/sh', forkServer: true });
    try {
      const handle = await backend.spawn(backend.prepare({ id: 't', command: 'echo ready; sleep 60 & sleep 60; wait', env: {} }));
      handles.push(handle);
      const out = collect(handle.stdout);
      expect(handle.describe().pgid).toBe(handle.describe().pid);
      await eventually(() => handle.memberCount() >= 3);
      expect(await handle.terminate(2_000)).toBe(true);
      expect(await handle.exit).toMatchObject({ signal: 'SIGTERM' });
      expect(await out).toBe('ready\n');
      await expect(backend.spawn(backend.prepare({ id: 't', argv: ['/no/such/program'], env: {} }))).rejects.toMatchObject({
        code: 'SPAWN_FAILED',
        details: { errno: 'ENOENT' },
      });
    } finally {
      await backend.close();
    }
  });
});
