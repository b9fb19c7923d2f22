// postExecute hooks with real scripts: the final record on stdin (exit, cancel, disconnect), recorded output, no delay.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { isProcessAlive, listGroupMembers } from '../../src/backends/local/proc.js';
import type { Execution } from '../../src/processes/execution.js';
import { callTool, callWithProgress, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';
import { fixture, withHooks } from './helpers.js';

const fx = useTestServer();
const groups = fx.groups;
let tmp: { dir: string };

beforeEach(() => {
  tmp = { dir: fx.tempDir('cc-hooks-') };
});

function recorded(dir: string, id: string): any {
  return JSON.parse(readFileSync(join(dir, `${id}.postExecute.json`), 'utf8'));
}

describe('postExecute hooks', () => {
  it('receive the final record on stdin once the process ended; their runs are appended to the record', async () => {
    await withHooks(fx, { postExecute: [{ argv: [fixture('echo-input.mjs'), tmp.dir] }] }, async (client, server) => {
      const { result } = await callWithProgress(client, 'execute', { command: 'echo hi; echo oops >&2; exit 3', cwd: tmp.dir });
      groups.addResult(result);
      const s = structured(result);
      const execution = server.engine.executions.find(s.id);
      await execution.postHooksDone;
      const seen = recorded(tmp.dir, s.id);
      expect(seen.input).toMatchObject({
        hook: 'postExecute',
        executionId: s.id,
        id: s.id,
        sessionId: s.sessionId,
        command: 'echo hi; echo oops >&2; exit 3',
        state: 'exited',
        exitCode: 3,
        terminationReason: null,
        stdout: 'hi\n',
        stderr: 'oops\n',
        outputTruncated: false,
        stdoutBytes: 3,
      });
      expect(seen.input.endedAt).toBe(s.endedAt);
      expect(seen.env.CC_EXECUTOR_HOOK).toBe('postExecute');
      expect(seen.cwd).toBe(tmp.dir);

      const after = structured(await callTool(client, 'status', { id: s.id }));
      const post = after.hooks.filter((h: any) => h.stage === 'postExecute');
      expect(post).toHaveLength(1);
      expect(post[0]).toMatchObject({ index: 0, outcome: 'ok', exitCode: 0, stdoutHead: 'recorded\n', changes: null });
      groups.add(post[0].pid);
      // the result itself never changes: exit code and output are the command's
      expect(after).toMatchObject({ exitCode: 3, stdout: 'hi\n', hookWarnings: [] });
      // the record on disk is final only after the post hooks: it holds their runs
      await waitFor(() => server.engine.records.read(s.id).state === 'exited', 10_000, 'final record');
      await server.engine.records.settled(s.id);
      const record = server.engine.records.read(s.id);
      expect(record.hooks.map((h) => h.stage)).toEqual(['postExecute']);
      expect(record.hooks[0]).toMatchObject({ outcome: 'ok', stdoutHead: 'recorded\n' });
    });
  });

  it('run after a cancel, with the reason in the record', async () => {
    await withHooks(fx, { postExecute: [{ argv: [fixture('echo-input.mjs'), tmp.dir] }] }, async (client) => {
      const started = structured(await callTool(client, 'execute', { command: 'sleep 60', background: true }));
      groups.add(started.pgid);
      const cancelled = structured(await callTool(client, 'control', { id: started.id, action: 'cancel' }));
      expect(cancelled.terminationReason).toBe('cancel');
      await waitFor(() => existsSync(join(tmp.dir, `${started.id}.postExecute.json`)), 10_000, 'post hook record');
      expect(recorded(tmp.dir, started.id).input).toMatchObject({ state: 'exited', terminationReason: 'cancel', signal: 'SIGTERM' });
    });
  });

  it('run after a disconnect kills the command', async () => {
    await withHooks(fx, { postExecute: [{ argv: [fixture('echo-input.mjs'), tmp.dir] }] }, async (_client, server) => {
      const other = await fx.connect(server.url);
      const call = other.callTool({ name: 'execute', arguments: { command: 'sleep 60' } });
      void call.catch(() => undefined);
      await waitFor(() => server.engine.executions.list().length === 1, 10_000, 'execution to start');
      const execution = server.engine.executions.list()[0]!;
      groups.add(execution.snapshot().pgid);
      await other.close();
      await waitFor(() => existsSync(join(tmp.dir, `${execution.id}.postExecute.json`)), 10_000, 'post hook record');
      expect(recorded(tmp.dir, execution.id).input).toMatchObject({ state: 'exited', terminationReason: 'disconnect' });
    });
  });

  it('a slow post hook does not delay the execute result, and is stopped at shutdown', async () => {
    const server = await fx.start({ hooks: { postExecute: [{ argv: [fixture('slow-post.sh'), tmp.dir], timeoutMs: 200_000 }] } });
    let execution: Execution;
    let hookPid: number;
    try {
      const client = await fx.connect(server.url);
      const { result } = await callWithProgress(client, 'execute', { command: 'echo fast' });
      groups.addResult(result);
      const s = structured(result);
      expect(s).toMatchObject({ exitCode: 0, stdout: 'fast\n' });
      // the hook sleeps 120 s: the result is here, and the hook is (still) running
      const pidFile = join(tmp.dir, 'started.pid');
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 10_000, 'post hook to start');
      hookPid = Number(readFileSync(pidFile, 'utf8'));
      groups.add(hookPid);
      expect(isProcessAlive(hookPid)).toBe(true);
      execution = server.engine.executions.find(s.id);
      const state = await Promise.race([
        execution.postHooksDone.then(() => 'done'),
        new Promise((r) => setTimeout(() => r('pending'), 200)),
      ]);
      expect(state).toBe('pending');
      await client.close();
    } finally {
      await server.close();
    }
    // close() stopped it: its group is gone and the run is recorded as failed
    expect(listGroupMembers(hookPid)).toEqual([]);
    expect(existsSync(join(tmp.dir, 'finished'))).toBe(false);
    await execution.postHooksDone;
    const post = execution.snapshot().hooks.find((h) => h.stage === 'postExecute');
    expect(post).toMatchObject({ outcome: 'failed', pid: hookPid });
    expect(post!.reason).toContain('shutting down');
  });

  it('a failing, hanging or skipped post hook is recorded with warnings; stdin it never reads is no problem', async () => {
    const hooks = {
      postExecute: [
        { argv: [fixture('fail.sh')] },
        { argv: [fixture('hang.sh')], timeoutMs: 400 },
        { argv: [fixture('fail.sh')], match: '^nomatch' },
        { argv: [fixture('ignore-stdin.sh')] },
      ],
    };
    await withHooks(
      fx,
      hooks,
      async (client, server) => {
        // 200 KB of output, all inline: the record on stdin is bigger than a pipe buffer
        const { result } = await callWithProgress(client, 'execute', { command: 'head -c 200000 /dev/zero | tr "\\0" a' });
        groups.addResult(result);
        expect(structured(result).stdout).toHaveLength(200_000);
        const execution = server.engine.executions.find(structured(result).id);
        await execution.postHooksDone;
        const s = execution.snapshot();
        const post = s.hooks.filter((h) => h.stage === 'postExecute');
        for (const h of post) groups.add(h.pid ?? undefined);
        expect(post.map((h) => h.outcome)).toEqual(['failed', 'failed', 'skipped', 'ok']);
        expect(post[0]!.reason).toBe('exited with code 1: hook broke');
        expect(post[1]).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
        expect(listGroupMembers(post[1]!.pid!)).toEqual([]);
        expect(s.hookWarnings).toHaveLength(2);
        expect(s.hookWarnings[1]).toContain('postExecute hook #1');
        expect(s.exitCode).toBe(0);

        const status = structured(await callTool(client, 'status', {}));
        expect(status.server.hooks.postExecute).toHaveLength(4);
        expect(status.server.hooks.postExecute[2]).toMatchObject({ index: 2, match: '^nomatch', timeoutMs: 10_000 });
        expect(status.server.hooks.recentFailures.map((f: { index: number }) => f.index)).toEqual([0, 1]);
        expect(status.server.hooks.recentFailures[1]).toMatchObject({ stage: 'postExecute', executionId: s.id });
      },
      { inlineOutputChars: 300_000 },
    );
  });
});
