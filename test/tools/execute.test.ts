// execute over the SDK's WebSocket client: exit codes, streams, large output, UTF-8, timeouts, cancellation, errors.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src/backends/local/proc.js';
import { callTool, callWithProgress, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer({ scope: 'file', config: { progressHeartbeatMs: 300 } });
const groups = fx.groups;

describe('execute', () => {
  it('returns the exit code and keeps stdout and stderr apart, in the result and in progress', async () => {
    const { result, streamed } = await callWithProgress(fx.client, 'execute', { command: 'echo out; echo err >&2; exit 3' });
    groups.addResult(result);
    expect(result.isError).toBeFalsy();
    const s = structured(result);
    expect(s).toMatchObject({ state: 'exited', exitCode: 3, signal: null, terminationReason: null, stdout: 'out\n', stderr: 'err\n' });
    expect(s.stdoutBytes).toBe(4);
    expect(streamed.stdout).toBe('out\n');
    expect(streamed.stderr).toBe('err\n');
    expect(s.pgid).toBe(s.pid);
    // progress strictly increases
    const values = streamed.notifications.map((n) => n.progress);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]!);
  });

  it('runs argv without a shell, passes env, cwd and stdin', async () => {
    const { result } = await callWithProgress(fx.client, 'execute', {
      argv: ['/bin/sh', '-c', 'printf "%s|%s|" "$FOO" "$(pwd)"; cat', 'ignored'],
      env: { FOO: 'bar baz' },
      cwd: '/tmp',
      stdin: 'from stdin',
    });
    groups.addResult(result);
    expect(structured(result).stdout).toBe('bar baz|/tmp|from stdin');
  });

  it('never lets a child read the server stdin and sets non-interactive pager defaults', async () => {
    const { result } = await callWithProgress(fx.client, 'execute', { command: 'cat; echo "pager=$GIT_PAGER editor=$GIT_EDITOR"' });
    groups.addResult(result);
    expect(structured(result)).toMatchObject({ exitCode: 0, stdout: 'pager=cat editor=true\n' });
  });

  it('streams 10 MB of output complete and in order through progress notifications', async () => {
    const command = 'f=$(mktemp); head -c 7500000 /dev/urandom | base64 -w 100 > $f; sha256sum < $f >&2; cat $f; rm -f $f';
    const { result, streamed } = await callWithProgress(fx.client, 'execute', { command }, { timeout: 60_000 });
    groups.addResult(result);
    const s = structured(result);
    expect(s.exitCode).toBe(0);
    expect(streamed.stdout.length).toBeGreaterThanOrEqual(10_000_000);
    expect(createHash('sha256').update(streamed.stdout).digest('hex')).toBe(streamed.stderr.split(' ')[0]);
    expect(s.stdoutBytes).toBe(Buffer.byteLength(streamed.stdout));
    // inline output is bounded, head and tail kept with a marker between
    expect(s.truncated).toBe(true);
    expect(s.stdout.length).toBeLessThan(31_000);
    expect(s.stdout).toMatch(/\.\.\. \[stdout lines \d+-\d+ left out/);
    expect(streamed.stdout.startsWith(s.stdout.slice(0, 1000))).toBe(true);
    expect(streamed.stdout.endsWith(s.stdout.slice(-1000))).toBe(true);
  }, 90_000);

  it('delivers a UTF-8 character split across pipe reads whole, and invalid bytes as U+FFFD', async () => {
    const { result, streamed } = await callWithProgress(fx.client, 'execute', {
      command: `printf '\\xe2\\x82'; sleep 0.3; printf '\\xac|\\xf0\\x9f'; sleep 0.3; printf '\\x98\\x80|\\xff\\n'`,
    });
    groups.addResult(result);
    expect(streamed.stdout).toBe('€|😀|\uFFFD\n');
    expect(structured(result).stdout).toBe('€|😀|\uFFFD\n');
    expect(structured(result).stdoutBytes).toBe(11);
  });

  it('sends heartbeat progress while the command is silent', async () => {
    const { result, streamed } = await callWithProgress(fx.client, 'execute', { command: 'sleep 1.2' });
    groups.addResult(result);
    const beats = streamed.notifications.filter((n) => n._meta?.['cc-executor/kind'] === 'heartbeat');
    expect(beats.length).toBeGreaterThanOrEqual(2);
  });

  it('kills the whole group on timeout and says so', async () => {
    const started = Date.now();
    const { result } = await callWithProgress(fx.client, 'execute', { command: 'sleep 30 & sleep 30; wait', timeoutMs: 300 });
    groups.addResult(result);
    const s = structured(result);
    expect(s).toMatchObject({ state: 'exited', terminationReason: 'timeout', signal: 'SIGTERM' });
    expect(s.timeout.requestedMs).toBe(300);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('clamps a timeout above maxTimeoutMs and reports the clamp', async () => {
    const { result } = await callWithProgress(fx.client, 'execute', { command: 'true', timeoutMs: 10 ** 12 });
    groups.addResult(result);
    expect(structured(result).timeout).toMatchObject({ requestedMs: 86_400_000, clamped: true });
  });

  it('terminates on idle timeout when the command goes silent', async () => {
    const { result } = await callWithProgress(fx.client, 'execute', { command: 'echo start; sleep 30', idleTimeoutMs: 300 });
    groups.addResult(result);
    expect(structured(result)).toMatchObject({ terminationReason: 'idle_timeout', stdout: 'start\n' });
  });

  it('cancels the execution when the MCP request is cancelled', async () => {
    const ac = new AbortController();
    const pending = callWithProgress(fx.client, 'execute', { command: 'echo $$; sleep 30' }, { signal: ac.signal });
    let pid = 0;
    await waitFor(async () => {
      const list = structured(await callTool(fx.client, 'status', {})).executions as Array<{ pid: number; state: string; command: string }>;
      const mine = list.find((e) => e.command === 'echo $$; sleep 30' && e.state === 'running');
      pid = mine?.pid ?? 0;
      return pid > 0;
    });
    groups.add(pid);
    ac.abort('test cancels');
    await expect(pending).rejects.toThrow();
    await waitFor(() => !isProcessAlive(pid), 5_000, 'leader to die');
    const list = structured(await callTool(fx.client, 'status', { scope: 'session' })).executions as Array<{
      pid: number;
      terminationReason: string;
    }>;
    await waitFor(async () => {
      const again = structured(await callTool(fx.client, 'status', {})).executions as Array<{
        pid: number;
        terminationReason: string;
        state: string;
      }>;
      return again.find((e) => e.pid === pid)?.state === 'exited';
    });
    expect(list.find((e) => e.pid === pid)?.terminationReason).toBe('cancel');
  });

  it('returns a running handle after waitMs and the command goes on; background returns at once', async () => {
    const { result } = await callWithProgress(fx.client, 'execute', { command: 'echo one; sleep 0.5; echo two', waitMs: 100 });
    groups.addResult(result);
    const s = structured(result);
    expect(s.state).toBe('running');
    expect(s.stdout).toBe('one\n');
    const bg = await callTool(fx.client, 'execute', { command: 'sleep 0.3; echo bg', background: true });
    groups.addResult(bg);
    expect(structured(bg)).toMatchObject({ state: 'running', background: true });
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id: s.id })).state === 'exited');
    const final = structured(await callTool(fx.client, 'status', { id: s.id }));
    expect(final.output.chunks.map((c: { data: string }) => c.data).join('')).toBe('one\ntwo\n');
  });

  it('gives clear error codes for bad input', async () => {
    const both = await callTool(fx.client, 'execute', { command: 'true', argv: ['true'] });
    expect(both.isError).toBe(true);
    expect(structured(both).error.code).toBe('INVALID_INPUT');
    const neither = await callTool(fx.client, 'execute', {});
    expect(structured(neither).error.code).toBe('INVALID_INPUT');
    const badCwd = await callTool(fx.client, 'execute', { command: 'true', cwd: '/no/such/dir' });
    expect(structured(badCwd).error.code).toBe('INVALID_CWD');
    const missing = await callTool(fx.client, 'execute', { argv: ['/no/such/program'] });
    expect(structured(missing).error).toMatchObject({ code: 'SPAWN_FAILED' });
    const wrongType = await callTool(fx.client, 'execute', { command: 'true', timeoutMs: 'soon' });
    expect(wrongType.isError).toBe(true);
    expect((wrongType.content as Array<{ text: string }>)[0]!.text).toMatch(/timeoutMs/);
    const nul = await callTool(fx.client, 'execute', { command: 'echo a\u0000b' });
    expect(structured(nul).error.code).toBe('INVALID_INPUT');
  });
});
