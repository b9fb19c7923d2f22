// The bubblewrap sandbox through the real server and SDK client: what a sandboxed command can write, read, reach and leave behind.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeBubblewrap } from '../../src/backends/local/bubblewrap-probe.js';
import { listSandboxMembers } from '../../src/backends/local/sandbox-members.js';
import { callTool, isProcessStopped, structured, waitFor } from '../helpers/server.js';
import { useTestServer, type ServerOverrides } from '../helpers/use-test-server.js';
import { spawnServer } from '../helpers/spawn-server.js';
import { alive } from '../helpers/proc.js';

const probe = probeBubblewrap();
if (!probe.ok) console.warn(`sandbox tests skipped, bwrap cannot run here: ${probe.reason}`);

// Servers, clients and temp dirs a test starts are undone after it; then every process group it saw must be gone.
const fx = useTestServer();
const groups = fx.groups;
let dir: string;

beforeEach(() => {
  dir = fx.tempDir('ccx-sandbox-e2e-');
});

/** A server that sandboxes every command (unless `overrides` say otherwise), and its client. */
const serve = (overrides: ServerOverrides = {}) => fx.serve({ sandbox: 'always', ...overrides });

async function run(args: Record<string, unknown>, c: Client = fx.client): Promise<any> {
  const result = await callTool(c, 'execute', { cwd: dir, ...args });
  groups.addResult(result);
  return { ...structured(result), isError: result.isError === true };
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** The host pid of the sandboxed `sleep 300` a test started, found in the sandbox's PID namespace. */
async function findSleeper(bwrapPid: number): Promise<number> {
  let found: number | undefined;
  await waitFor(
    () => {
      found = listSandboxMembers(bwrapPid).find((m) => cmdline(m.pid) === 'sleep 300')?.pid;
      return found !== undefined;
    },
    20_000,
    'the sandboxed sleeper',
  );
  return found!;
}

/** A command that leaves a `setsid` grandchild behind, outside its process group, then waits. */
const SETSID_GRANDCHILD = 'setsid sleep 300 & echo started; sleep 300';

describe.skipIf(!probe.ok)('sandbox "always"', () => {
  it('lets a write to the cwd land on the host, and fails writes to /etc, /usr, /var/tmp and $HOME', async () => {
    await serve();
    const tag = `ccx-e2e-${process.pid}-${Date.now()}`;
    const targets = ['/etc', '/usr', '/var/tmp', homedir()].map((d) => join(d, tag));
    const r = await run({
      command: [`echo kept > out.txt && echo cwd-ok`, ...targets.map((t) => `touch ${t} 2>/dev/null && echo WROTE ${t}`), 'true'].join(
        '; ',
      ),
    });
    expect(r.stdout).toBe('cwd-ok\n');
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('kept\n');
    for (const t of targets) expect(existsSync(t), t).toBe(false);
    expect(r.sandbox).toEqual({ network: 'none', writableRoots: [dir] });
  });

  it("makes a planted $HOME/.ssh/id_test and the data dir's output logs unreadable", async () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'id_test'), 'PLANTED-KEY');
    const data = join(dir, 'data');
    const work = join(dir, 'work');
    mkdirSync(work);
    // The real binary with its own HOME: the default sandboxHide expands ~ against the server's HOME.
    const proc = await fx.spawn(['--sandbox', 'always', '--data-dir', data], { HOME: home });
    const client = await fx.connect(proc.url);
    const first = await run({ command: 'echo EARLIER-OUTPUT', cwd: work }, client);
    expect(first.stdout).toBe('EARLIER-OUTPUT\n');
    const logs = readdirSync(join(data, 'responses')).filter((f) => f.endsWith('.stdout.log'));
    expect(logs.length).toBeGreaterThan(0);
    const r = await run(
      {
        command: `cat ~/.ssh/id_test ${join(home, '.ssh', 'id_test')} ${join(data, 'responses', logs[0]!)} 2>&1; ls -A ${data}; echo end`,
        cwd: work,
      },
      client,
    );
    expect(r.stdout).not.toContain('PLANTED-KEY');
    expect(r.stdout).not.toContain('EARLIER-OUTPUT');
    expect(r.stdout).toContain('end');
  });

  it("defeats the BASH_ENV trick: the server's own output log cannot be sourced", async () => {
    await serve({ sandbox: 'available' });
    const first = await run({ command: `echo 'echo PWNED-$((6*7))'` });
    await fx.server.engine.records.settled(first.id); // the answer can come before the log is flushed to disk
    const log = readdirSync(join(fx.server.engine.config.dataDir, 'responses')).find(
      (f) => f.includes(first.id) && f.endsWith('.stdout.log'),
    );
    expect(log).toBeDefined();
    const path = join(fx.server.engine.config.dataDir, 'responses', log!);
    // Unsandboxed, the trick works: bash sources the log before running the command.
    const open = await run({ command: 'true', env: { BASH_ENV: path } });
    expect(open.stdout).toContain('PWNED-42');
    const boxed = await run({ command: 'true', env: { BASH_ENV: path }, sandbox: true });
    expect(boxed.stdout).not.toContain('PWNED-42');
  });

  describe('network "none"', () => {
    let tcp: Server | undefined;
    let connections = 0;

    beforeEach(async () => {
      connections = 0;
      tcp = createServer((s) => {
        connections += 1;
        s.end('hello\n');
      });
      await new Promise<void>((resolve) => tcp!.listen(0, '127.0.0.1', resolve));
    });

    afterEach(async () => {
      await new Promise((resolve) => tcp?.close(resolve));
    });

    it('cannot connect to a TCP server on the host\'s 127.0.0.1, which sees no connection; a request cannot ask for "host"', async () => {
      await serve();
      const port = (tcp!.address() as { port: number }).port;
      const r = await run({ command: `exec 3<>/dev/tcp/127.0.0.1/${port} && echo CONNECTED; echo end` });
      expect(r.stdout).not.toContain('CONNECTED');
      expect(r.stdout).toContain('end');
      expect(connections).toBe(0);
      const loose = await run({ command: 'true', sandbox: { network: 'host' } });
      expect(loose.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'sandboxNetwork' } });
    });
  });

  it("shows `ps` only the command's own tree", async () => {
    await serve();
    const r = await run({ command: 'ps -e -o pid=,comm=' });
    const lines = r.stdout.trim().split('\n');
    // bwrap's init, the shell and ps itself: nothing of the host, not the server.
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(lines[0]).toMatch(/^\s*1 bwrap$/);
    expect(r.stdout).not.toMatch(/node/);
  });

  it('refuses a request that opts out, and states the mode in `status` and /health', async () => {
    await serve();
    const r = await run({ command: 'true', sandbox: false });
    expect(r.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'sandbox' } });
    const listing = structured(await callTool(fx.client, 'status', {}));
    expect(listing.server.sandbox).toMatchObject({ mode: 'always', network: 'none' });
    const health = (await (await fetch(`${fx.server.net.baseUrl}/health`)).json()) as { sandbox: unknown };
    expect(health.sandbox).toEqual({ mode: 'always', network: 'none' });
  });

  it('lets cancel reach the trap of a sandboxed command, then kills a setsid grandchild, and pause stops it too', async () => {
    await serve();
    const bg = await run({ command: `trap 'echo bye; exit 0' TERM; ${SETSID_GRANDCHILD} & wait`, background: true });
    const sleeper = await findSleeper(bg.pid);
    expect(procState(sleeper)).not.toBe('T');
    await callTool(fx.client, 'control', { id: bg.id, action: 'pause' });
    await waitFor(() => isProcessStopped(sleeper), 10_000, 'the setsid grandchild to stop');
    await callTool(fx.client, 'control', { id: bg.id, action: 'resume' });
    await waitFor(() => procState(sleeper) !== 'T', 10_000, 'the setsid grandchild to continue');
    await callTool(fx.client, 'control', { id: bg.id, action: 'cancel' });
    await waitFor(() => !alive(sleeper), 20_000, 'the setsid grandchild to die at cancel');
    let s: any;
    await waitFor(async () => (s = structured(await callTool(fx.client, 'status', { id: bg.id }))).state === 'exited', 20_000, 'exit');
    expect(s.stdout).toContain('bye');
    expect(s.terminationReason).toBe('cancel');
  });

  it('kills a setsid grandchild when its session disconnects', async () => {
    await serve();
    const other = await fx.connect(fx.server.url);
    const pending = other.callTool({ name: 'execute', arguments: { command: SETSID_GRANDCHILD, cwd: dir } }).catch(() => undefined);
    let bwrapPid = 0;
    await waitFor(async () => {
      const list = structured(await callTool(fx.client, 'status', { scope: 'all' })).executions as Array<{ pid: number }>;
      bwrapPid = list[0]?.pid ?? 0;
      return bwrapPid > 0;
    });
    groups.add(bwrapPid);
    const sleeper = await findSleeper(bwrapPid);
    await other.close();
    await pending;
    await waitFor(() => !alive(sleeper), 20_000, 'the setsid grandchild to die at disconnect');
  });

  it('kills a setsid grandchild at server shutdown', async () => {
    const proc = await fx.spawn(['--sandbox', 'always', '--grace-ms', '1000']);
    const client = await fx.connect(proc.url);
    const bg = await run({ command: SETSID_GRANDCHILD, background: true }, client);
    const sleeper = await findSleeper(bg.pid);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    await waitFor(() => !alive(sleeper), 20_000, 'the setsid grandchild to die at shutdown');
  });

  it('kills every sandbox when the server is SIGKILLed', async () => {
    const proc = await fx.spawn(['--sandbox', 'always']);
    const client = await fx.connect(proc.url);
    const bg = await run({ command: SETSID_GRANDCHILD, background: true }, client);
    const sleeper = await findSleeper(bg.pid);
    proc.child.kill('SIGKILL');
    await proc.exited;
    await waitFor(() => !alive(sleeper) && !alive(bg.pid), 20_000, 'the sandbox to die with the server');
  });

  it('follows a background execution from another session, sandboxed', async () => {
    await serve();
    const bg = await run({ command: 'echo one; sleep 1; echo two', background: true });
    await fx.client.close();
    const other = await fx.connect(fx.server.url);
    let s: any;
    await waitFor(async () => (s = structured(await callTool(other, 'status', { id: bg.id }))).state === 'exited', 20_000, 'exit');
    expect(s.exitCode).toBe(0);
    expect(s.sandbox).toEqual({ network: 'none', writableRoots: [dir] });
    const text = (s.output?.chunks ?? []).map((c: { data: string }) => c.data).join('');
    expect(text).toBe('one\ntwo\n');
  });
});

describe('sandbox start-up', () => {
  it('refuses to start with one clear line when bwrap cannot be found', async () => {
    await expect(spawnServer(['--sandbox', 'always'], { PATH: '/nonexistent' })).rejects.toThrow(
      /bwrap is not on PATH: install bubblewrap/,
    );
  });

  it('refuses a sandbox request on a server that runs none, instead of running it unsandboxed', async () => {
    await serve({ sandbox: 'off' });
    const r = await run({ command: 'echo ran', sandbox: true });
    expect(r.error?.code).toBe('INVALID_INPUT');
    expect(r.stdout).toBeUndefined();
  });
});
