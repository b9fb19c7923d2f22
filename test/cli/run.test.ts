// `cc-executor run` as a real process against a real server: exact bytes, exit statuses, Ctrl-C, Ctrl-Z, --json, refusals.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listGroupMembers, readProcStat } from '../../src/backends/local/proc.js';
import { GroupTracker, connectWs, isGroupStopped, startTestServer, waitFor, type TestServer } from '../helpers/server.js';
import { bigText } from '../fixtures/write-bytes.mjs';
import { MAIN_JS, hex, killClients, runCli, spawnCli, writeBytesArgv } from './bin.js';

let server: TestServer;
const groups = new GroupTracker();
let dir: string;

beforeAll(async () => {
  server = await startTestServer({ graceMs: 2_000 });
  dir = mkdtempSync(join(tmpdir(), 'cc-cli-run-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  killClients();
  for (const e of server.engine.executions.list()) groups.add(e.snapshot().pgid);
  await groups.expectGroupsGone();
});

/** The one live foreground execution on the server (what the client under test started). */
async function liveExecution() {
  let found: ReturnType<typeof server.engine.executions.list>[number] | undefined;
  await waitFor(() => (found = server.engine.executions.list().find((e) => e.state !== 'exited' && !e.background)) !== undefined);
  groups.add(found!.snapshot().pgid);
  return found!;
}

describe('cc-executor run: output', () => {
  it('writes stdout and stderr byte for byte, control characters and multi-byte text included, and exits 0', async () => {
    const out = Buffer.concat([Buffer.from('plain\n\0nul \x1b[31mred\x1b[0m\r\ncr é€😀 \x7f'), Buffer.from('no newline at the end')]);
    const err = Buffer.from('warn: ünïcödé\n\tlast');
    const r = await runCli(['run', '--argv', ...writeBytesArgv(`out:${hex(out)}`, `err:${hex(err)}`)], { url: server.url });
    expect(r.code).toBe(0);
    expect(r.stdout.equals(out)).toBe(true);
    expect(r.stderr.equals(err)).toBe(true);
  });

  it('keeps a UTF-8 character whole when the command writes it in two pieces with a pause between', async () => {
    // "€" is e2 82 ac; "😀" is f0 9f 98 80: split inside both, on both streams.
    const r = await runCli(['run', ...writeBytesArgv('out:41e282', 'err:f09f', 'sleep:300', 'out:ac0a', 'err:98800a')], {
      url: server.url,
    });
    expect(r.code).toBe(0);
    expect(r.stdout.toString('hex')).toBe(hex('A€\n'));
    expect(r.stderr.toString('hex')).toBe(hex('😀\n'));
  });

  it('turns bytes that are not UTF-8 into U+FFFD (the documented rule), the rest stays exact', async () => {
    const r = await runCli(['run', ...writeBytesArgv('out:41ff42c30a')], { url: server.url });
    expect(r.stdout.toString('hex')).toBe(hex('A\uFFFDB\uFFFD\n'));
  });

  it('delivers 3 MB of multi-byte output exactly once, in order', async () => {
    const bytes = 3_000_000;
    const r = await runCli(['run', ...writeBytesArgv(`big:${bytes}`)], { url: server.url });
    expect(r.code).toBe(0);
    const expected = Buffer.from(bigText(bytes));
    expect(r.stdout.length).toBe(expected.length);
    expect(r.stdout.equals(expected)).toBe(true);
  });

  it('a reader slower than the command still gets every byte: the client waits instead of dropping or cutting', async () => {
    const bytes = 4_000_000;
    const p = spawnCli(['run', ...writeBytesArgv(`big:${bytes}`)], { url: server.url });
    p.child.stdout!.pause(); // nobody reads for a while: the pipe fills up
    await new Promise((r) => setTimeout(r, 1_500));
    p.child.stdout!.resume();
    expect((await p.exited).code).toBe(0);
    expect(p.stdout().equals(Buffer.from(bigText(bytes)))).toBe(true);
  });

  it('streams output as it arrives, before the command ends', async () => {
    const flag = join(dir, 'go-stream');
    const p = spawnCli(['run', ...writeBytesArgv(`out:${hex('first\n')}`, `wait-file:${flag}`, `out:${hex('second\n')}`)], {
      url: server.url,
    });
    await p.waitForStdout('first\n');
    expect(p.stdout().toString()).toBe('first\n');
    writeFileSync(flag, '');
    expect((await p.exited).code).toBe(0);
    expect(p.stdout().toString()).toBe('first\nsecond\n');
  });
});

describe('cc-executor run: exit status', () => {
  it.each([
    ['exit 0', 0],
    ['exit 3', 3],
    ['kill -TERM $$', 143],
    ['kill -KILL $$', 137],
  ])('%s -> %i', async (command, code) => {
    const r = await runCli(['run', '--', command], { url: server.url });
    expect(r.code, r.stderr.toString()).toBe(code);
  });

  it('a missing program in argv mode exits 127, one that cannot run exits 126', async () => {
    const missing = await runCli(['run', '--argv', '/nonexistent/program'], { url: server.url });
    expect(missing.code).toBe(127);
    expect(missing.stderr.toString()).toContain('SPAWN_FAILED');
    const notExecutable = await runCli(['run', '--argv', dir], { url: server.url });
    expect(notExecutable.code).toBe(126);
  });

  it('exits 255 with a clear message when no server listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const r = await runCli(['run', '--url', `ws://127.0.0.1:${port}/ws/mcp`, '--', 'echo never'], {});
    expect(r.code).toBe(255);
    expect(r.stderr.toString()).toMatch(/cannot reach the server at ws:\/\/127\.0\.0\.1:\d+\/ws\/mcp \(connection refused\)/);
    expect(r.stdout.length).toBe(0);
  });

  it('exits 255 when the server refuses the connection (session limit: HTTP 503) or the path is wrong (404)', async () => {
    const small = await startTestServer({ maxSessions: 1 });
    const holder = await connectWs(small.url);
    try {
      const busy = await runCli(['run', '--', 'echo never'], { url: small.url });
      expect(busy.code).toBe(255);
      expect(busy.stderr.toString()).toContain('HTTP 503');
    } finally {
      await holder.close();
      await small.close();
    }
    const wrongPath = await runCli(['run', '--url', server.url.replace('/ws/mcp', '/nope'), '--', 'true'], {});
    expect(wrongPath.code).toBe(255);
    expect(wrongPath.stderr.toString()).toContain('HTTP 404');
  });

  it('exits 125 on a usage error, and on a request the server refuses (bad cwd)', async () => {
    const usage = await runCli(['run', '--no-such-flag', '--', 'true'], { url: server.url });
    expect(usage.code).toBe(125);
    expect(usage.stderr.toString()).toContain('--no-such-flag');
    const nothing = await runCli(['run'], { url: server.url });
    expect(nothing.code).toBe(125);
    const badCwd = await runCli(['run', '--cwd', join(dir, 'missing'), '--', 'true'], { url: server.url });
    expect(badCwd.code).toBe(125);
    expect(badCwd.stderr.toString()).toContain('INVALID_CWD');
  });
});

describe('cc-executor run: options', () => {
  it('one word is a shell command line, several are an argv; --shell and --argv override', async () => {
    const shell = await runCli(['run', '--', 'echo $((1+2)) | tr 3 x'], { url: server.url });
    expect(shell.stdout.toString()).toBe('x\n');
    const argv = await runCli(['run', 'echo', '$((1+2))', '|', 'tr'], { url: server.url });
    expect(argv.stdout.toString()).toBe('$((1+2)) | tr\n');
    const joined = await runCli(['run', '--shell', 'echo', '$((1+2))'], { url: server.url });
    expect(joined.stdout.toString()).toBe('3\n');
  });

  it('passes --cwd (relative to ours, ours by default), --env, and --stdin', async () => {
    const here = await runCli(['run', '--', 'pwd'], { url: server.url, cwd: dir });
    expect(here.stdout.toString()).toBe(`${dir}\n`);
    const r = await runCli(
      ['run', '--cwd', '..', '-e', 'FOO=bar baz', '--env', 'FROM_US', '--stdin', '--', 'pwd; echo "$FOO/$FROM_US"; cat'],
      {
        url: server.url,
        cwd: dir,
        env: { FROM_US: 'ours' },
        stdin: 'piped in\n',
      },
    );
    expect(r.code, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toBe(`${join(dir, '..')}\nbar baz/ours\npiped in\n`);
  });

  it('--timeout ends the command on the server and says so on stderr', async () => {
    const r = await runCli(['run', '--timeout', '1s', '--', 'echo started; sleep 30'], { url: server.url });
    expect(r.code).toBe(143);
    expect(r.stdout.toString()).toBe('started\n');
    expect(r.stderr.toString()).toContain('reached its deadline (1.0s)');
  });

  it('--json prints one JSON object per line: output events, then the result', async () => {
    const r = await runCli(['run', '--json', '--', 'echo out; echo err >&2; exit 4'], { url: server.url });
    expect(r.code).toBe(4);
    const lines = r.stdout
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    const outputs = lines.filter((l) => l.type === 'output');
    expect(
      outputs
        .filter((l) => l.stream === 'stdout')
        .map((l) => l.data as string)
        .join(''),
    ).toBe('out\n');
    expect(
      outputs
        .filter((l) => l.stream === 'stderr')
        .map((l) => l.data as string)
        .join(''),
    ).toBe('err\n');
    expect(lines.at(-1)).toMatchObject({ type: 'result', state: 'exited', exitCode: 4 });
    expect(r.stderr.length).toBe(0);
  });

  it('--background prints the id and returns; the execution keeps running on the server', async () => {
    const r = await runCli(['run', '--background', '--', 'sleep 30'], { url: server.url });
    expect(r.code).toBe(0);
    const id = r.stdout.toString().trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const execution = server.engine.executions.find(id);
    groups.add(execution.snapshot().pgid);
    expect(execution.state).toBe('running');
    expect(execution.background).toBe(true);
    const json = await runCli(['run', '--background', '--json', '--', 'true'], { url: server.url });
    expect(JSON.parse(json.stdout.toString())).toMatchObject({ background: true, state: expect.any(String) });
    void execution.terminate('cancel');
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await runCli(['run', '--help'], { url: server.url });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain('Usage: cc-executor run');
    expect(r.stdout.toString()).toContain('255');
  });
});

describe('cc-executor run: decorations', () => {
  const silent = 'sleep 3.5; echo done';

  it('when stderr is a pipe, nothing but the command output is written: no indicator, no colour', async () => {
    const r = await runCli(['run', '--', silent], { url: server.url, env: { NO_COLOR: '' } });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('done\n');
    expect(r.stderr.length).toBe(0);
  });

  it.skipIf(!existsSync('/usr/bin/script'))(
    'on a terminal, a silent command shows a dim elapsed-time line on stderr, cleared before its output',
    async () => {
      // `script` gives the client a real pseudo-terminal for stdout and stderr.
      const line = [process.execPath, MAIN_JS, 'run', '--', JSON.stringify(silent)].join(' ');
      const r = await runCli([], {
        url: server.url,
        env: { NO_COLOR: '', TERM: 'xterm' },
        command: ['/usr/bin/script', '-qec', line, '/dev/null'],
      });
      expect(r.code, r.stdout.toString()).toBe(0);
      const screen = r.stdout.toString();
      const esc = '\u001b';
      expect(screen).toMatch(new RegExp(`${esc}\\[2m… running \\d\\.\\ds, silent \\d\\.\\ds \\(Ctrl-C cancels\\)${esc}\\[0m`));
      expect(screen.endsWith(`\r${esc}[2Kdone\r\n`)).toBe(true);
    },
  );
});

describe('cc-executor run: options and stdin', () => {
  it('takes client options before the subcommand as well as after it', async () => {
    const before = await runCli(['--url', server.url, '--cwd', dir, 'run', '--', 'pwd']);
    expect(before.code, before.stderr.toString()).toBe(0);
    expect(before.stdout.toString()).toBe(`${dir}\n`);
    const json = await runCli(['--json', 'run', '--', 'echo hi'], { url: server.url });
    expect(json.code, json.stderr.toString()).toBe(0);
    expect(json.stdout.toString()).toContain('"type":"result"');
  });

  it.skipIf(!existsSync('/usr/bin/script'))('--stdin on a terminal says on stderr that it reads until Ctrl-D', async () => {
    const line = [process.execPath, MAIN_JS, 'run', '--stdin', '--', 'cat'].join(' ');
    const p = spawnCli([], { url: server.url, openStdin: true, command: ['/usr/bin/script', '-qec', line, '/dev/null'] });
    await p.waitForStdout('until Ctrl-D', 30_000);
    p.child.stdin!.write('typed text\n');
    await p.waitForStdout('typed text', 30_000);
    p.child.stdin!.write('\u0004');
    const end = await p.exited;
    expect(end.code, p.stdout().toString()).toBe(0);
    expect(p.stdout().toString().split('typed text').length).toBe(3); // the echo, then cat's output
  });
});

describe('cc-executor run: signals', () => {
  it('SIGINT cancels the remote process group, grandchildren included, then the client dies by SIGINT', async () => {
    const p = spawnCli(['run', '--', 'sleep 300 & sleep 300 & echo ready; wait'], { url: server.url });
    await p.waitForStdout('ready');
    const execution = await liveExecution();
    const pgid = execution.snapshot().pgid!;
    await waitFor(() => listGroupMembers(pgid).length >= 3, 5_000, 'the group with its children');
    p.child.kill('SIGINT');
    // Dying by the signal (not exit 143) is what makes a shell loop stop at the first Ctrl-C.
    expect(await p.exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(execution.terminationReason).toBe('cancel');
    await waitFor(() => listGroupMembers(pgid).length === 0, 5_000, 'the group to be gone');
  });

  it('SIGINT also cancels a command that has printed nothing yet', async () => {
    const p = spawnCli(['run', '--', 'sleep 300'], { url: server.url });
    const execution = await liveExecution();
    p.child.kill('SIGINT');
    expect((await p.exited).signal).toBe('SIGINT');
    expect(execution.terminationReason).toBe('cancel');
    await waitFor(() => listGroupMembers(execution.snapshot().pgid!).length === 0, 5_000, 'the group to be gone');
  });

  it('a second SIGINT kills a command that ignores SIGTERM', async () => {
    const slow = await startTestServer({ graceMs: 60_000 });
    try {
      const p = spawnCli(['run', '--', `trap '' TERM; sleep 300 & echo ready; wait`], { url: slow.url });
      await p.waitForStdout('ready');
      let execution: ReturnType<typeof slow.engine.executions.list>[number] | undefined;
      await waitFor(() => (execution = slow.engine.executions.list()[0]) !== undefined);
      const pgid = execution!.snapshot().pgid!;
      groups.add(pgid);
      p.child.kill('SIGINT');
      await waitFor(() => execution!.terminationReason === 'cancel', 5_000, 'the cancel');
      await new Promise((r) => setTimeout(r, 300));
      expect(listGroupMembers(pgid).length).toBeGreaterThan(0); // TERM ignored, grace not over
      p.child.kill('SIGINT');
      expect((await p.exited).signal).toBe('SIGINT');
      expect(execution!.terminationReason).toBe('cancel');
      await waitFor(() => listGroupMembers(pgid).length === 0, 5_000, 'the group to be gone');
    } finally {
      await slow.close();
    }
  });

  it.each(['SIGTERM', 'SIGHUP'] as const)('%s cancels the remote command, then the client dies by the same signal', async (sig) => {
    const p = spawnCli(['run', '--', 'echo ready; sleep 300'], { url: server.url });
    await p.waitForStdout('ready');
    const execution = await liveExecution();
    p.child.kill(sig);
    expect(await p.exited).toEqual({ code: null, signal: sig });
    expect(execution.terminationReason).toBe('cancel');
    await waitFor(() => listGroupMembers(execution.snapshot().pgid!).length === 0, 5_000, 'the group to be gone');
  });

  it('a bash loop of runs stops at the first SIGINT sent to the foreground job', async () => {
    // As a terminal's Ctrl-C does: SIGINT to bash and the running client alike; bash ends the loop only
    // when its child died by SIGINT.
    const loop = `for i in 1 2 3; do ${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN_JS)} run -- "echo start $i; sleep 30"; done; echo after-loop`;
    const p = spawnCli([], { url: server.url, command: ['setsid', 'bash', '-c', loop] });
    try {
      await p.waitForStdout('start 1');
      await liveExecution();
      process.kill(-p.child.pid!, 'SIGINT');
      const end = await p.exited;
      expect(p.stdout().toString()).not.toContain('start 2');
      expect(p.stdout().toString()).not.toContain('after-loop');
      expect(end.signal === 'SIGINT' || end.code === 130, JSON.stringify(end)).toBe(true);
    } finally {
      try {
        process.kill(-p.child.pid!, 'SIGKILL'); // a loop that went on (the failure) must not outlive the test
      } catch {
        // already gone
      }
    }
  });

  it('SIGTSTP pauses the remote group and stops the client; SIGCONT resumes both', async () => {
    const flag = join(dir, 'go-tstp');
    const p = spawnCli(['run', '--', `echo ready; while [ ! -e ${flag} ]; do sleep 0.05; done; echo end`], { url: server.url });
    await p.waitForStdout('ready');
    const execution = await liveExecution();
    const pgid = execution.snapshot().pgid!;
    p.child.kill('SIGTSTP');
    await waitFor(() => execution.state === 'paused', 5_000, 'the remote pause');
    await waitFor(() => readProcStat(p.child.pid!)?.state === 'T', 5_000, 'the client to stop');
    await waitFor(() => isGroupStopped(pgid), 5_000, 'the group to stop');
    p.child.kill('SIGCONT');
    await waitFor(() => execution.state === 'running', 5_000, 'the remote resume');
    writeFileSync(flag, '');
    const { code } = await p.exited;
    expect(code).toBe(0);
    expect(p.stdout().toString()).toBe('ready\nend\n');
  });
});
