// The bwrap launch builder against real bubblewrap: filesystem, hidden paths, network, PID namespace, signals, env.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Launch, SandboxSpec } from '../../../src/backends/backend.js';
import { probeBubblewrap } from '../../../src/backends/local/bubblewrap-probe.js';
import { sandboxLaunch } from '../../../src/backends/local/sandbox-launch.js';
import { findSandboxInit, listSandboxMembers } from '../../../src/backends/local/sandbox-members.js';
import { waitFor } from '../../helpers/server.js';
import { alive } from '../../helpers/proc.js';

const probe = probeBubblewrap();
if (!probe.ok) console.warn(`sandbox tests skipped: ${probe.reason}`);

interface Ran {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

let dir: string;
const started: ChildProcess[] = [];

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'ccx-sandbox-')));
});

afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function spec(over: Partial<SandboxSpec> = {}): SandboxSpec {
  return { network: 'none', writableRoots: [dir], hide: [], ...over };
}

function launchOf(command: string, opts: { env?: Record<string, string>; requestEnv?: Record<string, string> } = {}): Launch {
  const requestEnv = opts.requestEnv ?? {};
  return {
    plan: { id: 'test', command, env: requestEnv },
    file: '/bin/bash',
    args: ['-c', command],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: homedir(), ...opts.env, ...requestEnv },
  };
}

/** Spawn a sandboxed command the way the local backend does: its own process group, pipes, nothing inherited. */
function start(command: string, s: SandboxSpec = spec(), opts: Parameters<typeof launchOf>[1] = {}): ChildProcess {
  if (!probe.ok) throw new Error('no bwrap');
  const l = sandboxLaunch(launchOf(command, opts), s, { tools: probe.tools, keepEnv: (n) => ['PATH', 'HOME'].includes(n) });
  const child = spawn(l.file, l.args, { cwd: l.cwd, env: l.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  return child;
}

function finish(child: ChildProcess): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ stdout, stderr, code, signal })));
}

function run(command: string, s?: SandboxSpec, opts?: Parameters<typeof launchOf>[1]): Promise<Ran> {
  return finish(start(command, s, opts));
}

describe.skipIf(!probe.ok)('sandboxLaunch (real bubblewrap)', () => {
  it('lets a write to a writable root land on the host, and fails writes to /etc, /usr, /var/tmp and $HOME', async () => {
    const tag = `ccx-probe-${process.pid}-${Date.now()}`;
    const targets = ['/etc', '/usr', '/var/tmp', homedir()].map((d) => join(d, tag));
    const script = [
      `echo kept > ${join(dir, 'out.txt')} && echo cwd-ok`,
      ...targets.map((t) => `touch ${t} 2>/dev/null && echo WROTE ${t}`),
    ];
    const r = await run(`${script.join('; ')}; mount -o remount,rw / 2>/dev/null && echo REMOUNTED; true`);
    expect(r.stdout).toBe('cwd-ok\n');
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('kept\n');
    for (const t of targets) expect(existsSync(t), t).toBe(false);
  });

  it("gives the command a private /tmp: the host's files there are invisible and its writes never reach the host", async () => {
    const other = mkdtempSync(join(tmpdir(), 'ccx-host-tmp-'));
    try {
      writeFileSync(join(other, 'host-file'), 'host');
      const name = `ccx-private-${process.pid}-${Date.now()}`;
      const r = await run(`ls ${other} 2>&1; echo private > /tmp/${name} && cat /tmp/${name}`);
      expect(r.stdout).toContain('No such file or directory');
      expect(r.stdout).toContain('private\n');
      expect(existsSync(join('/tmp', name))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('makes hidden files and directories unreadable, also inside a writable root', async () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'id_test'), 'SECRET-KEY');
    writeFileSync(join(home, '.netrc'), 'SECRET-NETRC');
    const data = join(dir, 'data');
    mkdirSync(join(data, 'responses'), { recursive: true });
    writeFileSync(join(data, 'responses', 'x.stdout.log'), 'SECRET-LOG');
    const hide = [join(home, '.ssh'), join(home, '.netrc'), data, join(dir, 'does-not-exist')];
    const r = await run(
      `cat ${join(home, '.ssh', 'id_test')} ${join(home, '.netrc')} ${join(data, 'responses', 'x.stdout.log')} 2>&1; ` +
        `ls -A ${join(home, '.ssh')} ${data}; touch ${join(data, 'planted')} 2>/dev/null && echo PLANTED; echo end`,
      spec({ hide }),
    );
    expect(r.stdout).not.toContain('SECRET');
    expect(r.stdout).not.toContain('PLANTED');
    expect(r.stdout).toContain('end');
    expect(existsSync(join(data, 'planted'))).toBe(false);
  });

  describe('network', () => {
    let server: Server | undefined;
    let connections = 0;

    beforeEach(async () => {
      connections = 0;
      server = createServer((s) => {
        connections += 1;
        s.end('hello\n');
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    });

    afterEach(async () => {
      await new Promise((resolve) => server?.close(resolve));
    });

    function port(): number {
      return (server!.address() as { port: number }).port;
    }

    it('"none" has loopback only: the host\'s 127.0.0.1 is unreachable and its server sees no connection', async () => {
      const r = await run(`exec 3<>/dev/tcp/127.0.0.1/${port()} && echo CONNECTED; ip -o link 2>/dev/null | wc -l; echo end`);
      expect(r.stdout).not.toContain('CONNECTED');
      expect(r.stdout).toContain('end');
      expect(connections).toBe(0);
    });

    it('"host" reaches the host\'s loopback', async () => {
      const r = await run(`exec 3<>/dev/tcp/127.0.0.1/${port()} && head -1 <&3`, spec({ network: 'host' }));
      expect(r.stdout).toBe('hello\n');
      expect(connections).toBe(1);
    });
  });

  it("shows the command only its own process tree, not the server's /proc", async () => {
    const r = await run(`ls /proc | grep -c '^[0-9]'; cat /proc/${process.pid}/environ >/dev/null 2>&1 && echo READ-SERVER-ENV; true`);
    // bwrap's init, the shell, ls and grep (a subshell at most): nothing of the host.
    expect(Number(r.stdout.trim().split('\n')[0])).toBeLessThanOrEqual(5);
    expect(r.stdout).not.toContain('READ-SERVER-ENV');
  });

  it("lets SIGTERM sent to the command's process group reach its trap, which finishes its work before the exit", async () => {
    const child = start(`trap 'sleep 0.5; echo cleaned; exit 7' TERM; echo ready; sleep 60 & wait`);
    const done = finish(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('ready'), 20_000, 'ready');
    process.kill(-child.pid!, 'SIGTERM');
    const r = await done;
    expect(r.stdout).toContain('cleaned');
    expect(r.code).toBe(7);
  });

  it('finds a setsid grandchild by its namespace, and it dies with the sandbox when the command ends', async () => {
    const child = start(`setsid sleep 300 & echo started; sleep 60`);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise((resolve) => child.on('close', resolve));
    await waitFor(() => out.includes('started'), 20_000, 'started');
    let sleeper: number | undefined;
    await waitFor(
      () => {
        const members = listSandboxMembers(child.pid!);
        sleeper = members.find((m) => !m.init && cmdline(m.pid).startsWith('sleep\u0000300'))?.pid;
        return sleeper !== undefined;
      },
      20_000,
      'the setsid sleeper',
    );
    // It left the group: a group signal cannot reach it.
    expect(readFileSync(`/proc/${sleeper!}/stat`, 'utf8')).not.toContain(` ${child.pid!} ${child.pid!} `);
    expect(findSandboxInit(child.pid!)).toBeDefined();
    process.kill(-child.pid!, 'SIGKILL');
    await done;
    await waitFor(() => !alive(sleeper!), 20_000, 'the setsid sleeper to die');
    expect(listSandboxMembers(child.pid!)).toEqual([]);
  });

  it('dies with the process that spawned it, even when that one is SIGKILLed', async () => {
    if (!probe.ok) return;
    const l = sandboxLaunch(launchOf('sleep 300'), spec(), { tools: probe.tools, keepEnv: () => true });
    const parentCode = `const c = require('node:child_process').spawn(${JSON.stringify(l.file)}, ${JSON.stringify(l.args)}, { cwd: ${JSON.stringify(l.cwd)}, detached: true, stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', parentCode], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    started.push(parent);
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('\n'), 20_000, 'the bwrap pid');
    const bwrapPid = Number(out.trim());
    await waitFor(() => listSandboxMembers(bwrapPid).length >= 2, 20_000, 'the sandbox to start');
    const inside = listSandboxMembers(bwrapPid).map((m) => m.pid);
    process.kill(parent.pid!, 'SIGKILL');
    await waitFor(() => !alive(bwrapPid) && inside.every((p) => !alive(p)), 20_000, 'the sandbox to die with its parent');
  });

  it("builds the command's environment from the allowlist and the request, with default signal handling", async () => {
    const r = await run(
      `echo "secret=\${CCX_SERVER_SECRET-unset} asked=\${ASKED-unset} home=\${HOME-unset}"; grep SigIgn /proc/self/status`,
      spec(),
      {
        env: { CCX_SERVER_SECRET: 'leaked' },
        requestEnv: { ASKED: 'yes' },
      },
    );
    expect(r.stdout).toContain(`secret=unset asked=yes home=${homedir()}`);
    expect(r.stdout).toMatch(/SigIgn:\s+0+\n/);
  });
});
