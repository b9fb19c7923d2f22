// preExecute hooks with real scripts: rewrite, env, block (exit 2), hang (killed), failClosed, match, bad output.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { callTool, callWithProgress, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';
import { fixture, withHooks } from './helpers.js';

const fx = useTestServer();
const groups = fx.groups;
let tmp: { dir: string };

beforeEach(() => {
  tmp = { dir: fx.tempDir('cc-hooks-') };
});

async function run(client: Parameters<typeof callTool>[0], args: Record<string, unknown>) {
  const { result } = await callWithProgress(client, 'execute', args);
  groups.addResult(result);
  for (const h of structured(result).hooks ?? structured(result).error?.details?.hooks ?? []) groups.add(h.pid);
  return result;
}

describe('preExecute hooks', () => {
  it('a hook that rewrites the command: the new command runs and the record shows before and after', async () => {
    await withHooks(fx, { preExecute: [{ argv: [fixture('rewrite-command.mjs')] }] }, async (client) => {
      const s = structured(await run(client, { command: 'echo original' }));
      expect(s).toMatchObject({ exitCode: 0, stdout: 'hooked\noriginal\n', command: 'echo hooked && echo original', hookWarnings: [] });
      expect(s.hooks).toHaveLength(1);
      expect(s.hooks[0]).toMatchObject({
        stage: 'preExecute',
        index: 0,
        outcome: 'ok',
        exitCode: 0,
        timedOut: false,
        changes: { before: { command: 'echo original' }, after: { command: 'echo hooked && echo original' } },
      });
      expect(s.hooks[0].durationMs).toBeGreaterThanOrEqual(0);
      // status (and so the records built from snapshots) shows the same hook runs
      const st = structured(await callTool(client, 'status', { id: s.id }));
      expect(st.hooks).toEqual(s.hooks);
    });
  });

  it('gives the hook the request as JSON on stdin, with the execution id the result carries, in the command cwd', async () => {
    const hooks = { preExecute: [{ argv: [fixture('rewrite-command.mjs')] }, { argv: [fixture('echo-input.mjs'), tmp.dir] }] };
    await withHooks(fx, hooks, async (client) => {
      const s = structured(await run(client, { command: 'echo hi', cwd: tmp.dir, env: { A: '1' }, timeoutMs: 5_000 }));
      const seen = JSON.parse(readFileSync(join(tmp.dir, `${s.id}.preExecute.json`), 'utf8'));
      // the second hook sees the first one's change
      expect(seen.input).toEqual({
        hook: 'preExecute',
        executionId: s.id,
        sessionId: s.sessionId,
        command: 'echo hooked && echo hi',
        cwd: tmp.dir,
        env: { A: '1' },
        timeoutMs: 5_000,
      });
      expect(seen.env).toEqual({ CC_EXECUTOR_HOOK: 'preExecute', CC_EXECUTOR_EXECUTION_ID: s.id });
      expect(seen.cwd).toBe(tmp.dir);
      expect(s.stdout).toBe('hooked\nhi\n');
    });
  });

  it('a hook that sets env: its variables reach the command, null removes one, the request env stays', async () => {
    await withHooks(fx, { preExecute: [{ argv: [fixture('set-env.mjs')] }] }, async (client) => {
      const s = structured(
        await run(client, {
          command: 'printf "%s|%s|%s|%s" "$HOOK_VAR" "${REMOVE_ME-unset}" "$REQ_VAR" "$HOOK_SAW"',
          env: { REQ_VAR: 'kept', REMOVE_ME: 'x' },
        }),
      );
      expect(s.stdout).toBe('from-hook|unset|kept|REMOVE_ME,REQ_VAR');
      expect(s.hooks[0].changes).toEqual({
        before: { env: { REQ_VAR: 'kept', REMOVE_ME: 'x' } },
        after: { env: { REQ_VAR: 'kept', REMOVE_ME: null, HOOK_VAR: 'from-hook', HOOK_SAW: 'REMOVE_ME,REQ_VAR' } },
      });
    });
  });

  it('exit 2 blocks: BLOCKED_BY_HOOK with the stderr reason, and the command never ran', async () => {
    const marker = join(tmp.dir, 'marker');
    await withHooks(fx, { preExecute: [{ argv: [fixture('block.sh')] }] }, async (client) => {
      const result = await run(client, { command: `touch ${marker}` });
      expect(result.isError).toBe(true);
      const err = structured(result).error;
      expect(err.code).toBe('BLOCKED_BY_HOOK');
      expect(err.message).toContain('touching files is not allowed here');
      expect(err.details).toMatchObject({ stage: 'preExecute', index: 0, reason: 'touching files is not allowed here' });
      expect(err.details.hooks[0]).toMatchObject({ outcome: 'blocked', exitCode: 2 });
      await new Promise((r) => setTimeout(r, 300));
      expect(existsSync(marker)).toBe(false);
      // never registered as an execution either
      expect(structured(await callTool(client, 'status', {})).executions).toEqual([]);
      expect(structured(await callTool(client, 'status', {})).server.hooks.totals).toMatchObject({ blocks: 1, failures: 0 });
    });
  });

  it('a hanging hook is killed at its timeout with its whole group; the execution goes on with a warning', async () => {
    await withHooks(fx, { preExecute: [{ argv: [fixture('hang.sh')], timeoutMs: 500 }] }, async (client) => {
      const result = await run(client, { command: 'echo ran' });
      const s = structured(result);
      expect(s).toMatchObject({ exitCode: 0, stdout: 'ran\n' });
      expect(s.hooks[0]).toMatchObject({ outcome: 'failed', timedOut: true, exitCode: null, signal: 'SIGKILL' });
      expect(s.hooks[0].stderrHead).toBe('hanging\n');
      // it ignores SIGTERM: only the SIGKILL after the grace ended it, and nothing of its group is left
      expect(listGroupMembers(s.hooks[0].pid)).toEqual([]);
      expect(s.hookWarnings).toHaveLength(1);
      expect(s.hookWarnings[0]).toContain('timed out after 500 ms');
      expect((result.content as Array<{ text: string }>)[0]!.text).toContain('hook warning: preExecute hook #0');
    });
  });

  it('children a hook leaves behind are killed when it exits; its result still counts', async () => {
    await withHooks(fx, { preExecute: [{ command: 'cat >/dev/null; sleep 300 & sleep 300 >/dev/null 2>&1 & exit 0' }] }, async (client) => {
      const s = structured(await run(client, { command: 'echo next' }));
      expect(s).toMatchObject({ stdout: 'next\n', hookWarnings: [] });
      expect(s.hooks[0]).toMatchObject({ outcome: 'ok', exitCode: 0, timedOut: false });
      expect(listGroupMembers(s.hooks[0].pid)).toEqual([]);
    });
  });

  it('failClosed: a failing or hanging hook blocks the execution', async () => {
    const marker = join(tmp.dir, 'marker');
    const hooks = {
      preExecute: [
        { argv: [fixture('fail.sh')], match: '^fail', failClosed: true },
        { argv: [fixture('hang.sh')], match: '^hang', timeoutMs: 300, failClosed: true },
      ],
    };
    await withHooks(fx, hooks, async (client) => {
      const failed = structured(await run(client, { command: `fail; touch ${marker}` })).error;
      expect(failed.code).toBe('BLOCKED_BY_HOOK');
      expect(failed.details.reason).toBe('the hook failed and is failClosed: exited with code 1: hook broke');
      const hung = structured(await run(client, { command: `hang; touch ${marker}` })).error;
      expect(hung.code).toBe('BLOCKED_BY_HOOK');
      expect(hung.details.reason).toContain('timed out after 300 ms');
      expect(listGroupMembers(hung.details.hooks[1].pid)).toEqual([]);
      await new Promise((r) => setTimeout(r, 300));
      expect(existsSync(marker)).toBe(false);
    });
  });

  it('a failing hook without failClosed is a warning and the command runs', async () => {
    await withHooks(fx, { preExecute: [{ argv: [fixture('fail.sh')] }, { argv: ['/nonexistent/hook'] }] }, async (client) => {
      const s = structured(await run(client, { command: 'echo still' }));
      expect(s).toMatchObject({ exitCode: 0, stdout: 'still\n' });
      expect(s.hooks.map((h: { outcome: string }) => h.outcome)).toEqual(['failed', 'failed']);
      expect(s.hookWarnings[0]).toBe(
        'preExecute hook #0 (' + fixture('fail.sh') + ') failed: exited with code 1: hook broke; the execution went on',
      );
      expect(s.hookWarnings[1]).toContain('could not start /nonexistent/hook: ENOENT');
    });
  });

  it('match: a hook whose regex does not match the command (or argv[0]) is skipped', async () => {
    const hooks = {
      preExecute: [
        { argv: [fixture('rewrite-command.mjs')], match: '^echo special' },
        { argv: [fixture('block.sh')], match: '^rm$' },
      ],
    };
    await withHooks(fx, hooks, async (client) => {
      const plain = structured(await run(client, { command: 'echo plain' }));
      expect(plain.stdout).toBe('plain\n');
      expect(plain.hooks.map((h: { outcome: string }) => h.outcome)).toEqual(['skipped', 'skipped']);
      expect(plain.hooks[0].reason).toBe('match /^echo special/ does not match');
      expect(structured(await run(client, { command: 'echo special' })).stdout).toBe('hooked\nspecial\n');
      // argv mode matches argv[0]
      const victim = join(tmp.dir, 'victim');
      writeFileSync(victim, '');
      expect(structured(await run(client, { argv: ['rm', victim] })).error.code).toBe('BLOCKED_BY_HOOK');
      expect(existsSync(victim)).toBe(true);
      expect(structured(await run(client, { argv: ['/bin/echo', 'rm'] })).stdout).toBe('rm\n');
    });
  });

  it('a command hook may change cwd and timeoutMs; the changes are recorded', async () => {
    const change = JSON.stringify({ cwd: tmp.dir, timeoutMs: 4321 });
    await withHooks(fx, { preExecute: [{ command: `cat >/dev/null; echo '${change}'` }] }, async (client) => {
      const s = structured(await run(client, { command: 'pwd', cwd: '/' }));
      expect(s).toMatchObject({ stdout: `${tmp.dir}\n`, cwd: tmp.dir });
      expect(s.timeout.requestedMs).toBe(4321);
      expect(s.hooks[0].changes).toEqual({ before: { cwd: '/', timeoutMs: 600_000 }, after: { cwd: tmp.dir, timeoutMs: 4321 } });
    });
  });

  it('a hook may turn a shell command into an argv (no shell); before and after are recorded', async () => {
    const change = JSON.stringify({ argv: ['/bin/echo', 'swapped'] });
    await withHooks(fx, { preExecute: [{ command: `cat >/dev/null; echo '${change}'` }] }, async (client) => {
      const s = structured(await run(client, { command: 'echo original' }));
      expect(s).toMatchObject({ stdout: 'swapped\n', command: null, argv: ['/bin/echo', 'swapped'] });
      expect(s.hooks[0].changes).toEqual({ before: { command: 'echo original' }, after: { argv: ['/bin/echo', 'swapped'] } });
    });
  });

  it('invalid output on exit 0 (not JSON, unknown keys, a missing cwd) is a hook failure, and nothing changes', async () => {
    const hooks = {
      preExecute: [
        { argv: [fixture('not-json.sh')] },
        { command: `cat >/dev/null; echo '{"comand": "typo"}'` },
        { command: `cat >/dev/null; echo '{"cwd": "/nonexistent/dir"}'` },
      ],
    };
    await withHooks(fx, hooks, async (client) => {
      const s = structured(await run(client, { command: 'echo unchanged' }));
      expect(s.stdout).toBe('unchanged\n');
      expect(s.hooks.map((h: { outcome: string }) => h.outcome)).toEqual(['failed', 'failed', 'failed']);
      expect(s.hooks[0].reason).toContain('stdout is not valid JSON');
      expect(s.hooks[0].stdoutHead).toBe('this is not json\n');
      expect(s.hooks[1].reason).toContain('comand');
      expect(s.hooks[2].reason).toBe('cwd /nonexistent/dir is not a directory');
      expect(s.hookWarnings).toHaveLength(3);
    });
  });

  it('a hook that floods its output is recorded as a bounded head and a byte count', async () => {
    await withHooks(fx, { preExecute: [{ argv: [fixture('flood.sh')] }] }, async (client) => {
      const s = structured(await run(client, { command: 'echo after-flood' }));
      expect(s.stdout).toBe('after-flood\n');
      const h = s.hooks[0];
      expect(h).toMatchObject({ outcome: 'failed', stdoutBytes: 20_000_000, stderrBytes: 1_000_000 });
      expect(h.reason).toBe('stdout is over 1048576 bytes (20000000)');
      expect(h.stdoutHead).toBe('x'.repeat(4096));
      expect(h.stderrHead).toBe('e'.repeat(4096));
    });
  });

  it('cancelling execute while a hook runs kills the hook and never starts the command', async () => {
    const pidFile = join(tmp.dir, 'hook.pid');
    const marker = join(tmp.dir, 'marker');
    await withHooks(fx, { preExecute: [{ argv: [fixture('hang.sh'), pidFile], timeoutMs: 20_000 }] }, async (client) => {
      const ac = new AbortController();
      const aborted = client.callTool({ name: 'execute', arguments: { command: `touch ${marker}` } }, undefined, { signal: ac.signal });
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 10_000, 'hook to start');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      groups.add(pid);
      ac.abort();
      await expect(aborted).rejects.toThrow();
      await waitFor(() => listGroupMembers(pid).length === 0, 10_000, 'the hook group to be killed');
      await new Promise((r) => setTimeout(r, 300));
      expect(existsSync(marker)).toBe(false);
      // not even started and cancelled at once: no execution exists
      expect(structured(await callTool(client, 'status', { scope: 'all' })).executions).toEqual([]);
    });
  });

  it('the example venv hook activates .venv when the cwd has one', async () => {
    mkdirSync(join(tmp.dir, '.venv', 'bin'), { recursive: true });
    writeFileSync(join(tmp.dir, '.venv', 'bin', 'activate'), `export VIRTUAL_ENV=${tmp.dir}/.venv\n`);
    const venvHook = new URL('../../examples/hooks/venv.mjs', import.meta.url).pathname;
    await withHooks(fx, { preExecute: [{ argv: [venvHook] }] }, async (client) => {
      const inVenv = structured(await run(client, { command: 'echo "venv=$VIRTUAL_ENV"', cwd: tmp.dir }));
      expect(inVenv.stdout).toBe(`venv=${tmp.dir}/.venv\n`);
      expect(inVenv.command).toBe('. .venv/bin/activate && echo "venv=$VIRTUAL_ENV"');
      const elsewhere = structured(await run(client, { command: 'echo "venv=$VIRTUAL_ENV"', cwd: '/', env: { VIRTUAL_ENV: '' } }));
      expect(elsewhere.stdout).toBe('venv=\n');
      expect(elsewhere.hooks[0].changes).toBeNull();
    });
  });
});
