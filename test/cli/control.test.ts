// `cc-executor control` as a real process: actions reach the whole remote group; `serve` and the bare bin stay the server.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { callTool, isGroupStopped, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';
import { MAIN_JS, killClients, runCli } from './bin.js';

const fx = useTestServer({ scope: 'file', config: { graceMs: 1_000 } });
const groups = fx.groups;
afterEach(async () => {
  killClients();
  for (const e of fx.server.engine.executions.list()) if (e.state !== 'exited') void e.terminate('kill', 0);
});

async function startBackground(command: string): Promise<{ id: string; pgid: number }> {
  const s = structured(await callTool(fx.client, 'execute', { command, background: true }));
  groups.add(s.pgid);
  return { id: s.id, pgid: s.pgid };
}

async function output(id: string): Promise<string> {
  const s = structured(await callTool(fx.client, 'status', { id }));
  return (s.output.chunks as Array<{ data: string }>).map((c) => c.data).join('');
}

describe('cc-executor control', () => {
  it('pause and resume reach every member of the group, by id prefix', async () => {
    const { id, pgid } = await startBackground('sleep 60 & sleep 60 & wait');
    await waitFor(() => listGroupMembers(pgid).length >= 3, 5_000, 'three members');
    const paused = await runCli(['control', id.slice(0, 6), 'pause'], { url: fx.server.url });
    expect(paused.code, paused.stderr.toString()).toBe(0);
    expect(paused.stdout.toString()).toBe(`${id} pause: ${/paused, \S+ since start \(pid \d+\)/.exec(paused.stdout.toString())![0]}\n`);
    await waitFor(() => isGroupStopped(pgid), 5_000, 'all members stopped');
    const resumed = await runCli(['control', '--json', id.slice(0, 6), 'resume'], { url: fx.server.url });
    expect(JSON.parse(resumed.stdout.toString())).toMatchObject({ id, state: 'running', action: 'resume' });
    await waitFor(() => listGroupMembers(pgid).every((m) => m.state !== 'T'), 5_000, 'all members running');
  });

  it('cancel leaves no member of the group behind and reports how it ended', async () => {
    const { id, pgid } = await startBackground('bash -c "sleep 60 & wait" & sleep 60 & wait');
    await waitFor(() => listGroupMembers(pgid).length >= 4, 5_000, 'grandchildren');
    const r = await runCli(['control', id, 'cancel', '--grace', '500ms'], { url: fx.server.url });
    expect(r.code, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toMatch(/ cancel: killed by SIGTERM \(cancel\) after /);
    expect(listGroupMembers(pgid)).toEqual([]);
  });

  it('signal sends the named signal to the group; kill ends it now', async () => {
    const { id, pgid } = await startBackground(`trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done`);
    await waitFor(async () => (await output(id)).includes('ready'), 5_000, 'ready');
    const r = await runCli(['control', id, 'signal', 'usr1'], { url: fx.server.url });
    expect(r.code, r.stderr.toString()).toBe(0);
    await waitFor(async () => (await output(id)).includes('got USR1'), 5_000, 'the trap to run');
    const killed = await runCli(['control', id, 'kill'], { url: fx.server.url });
    expect(killed.stdout.toString()).toMatch(/ kill: killed by SIGKILL \(kill\)/);
    expect(listGroupMembers(pgid)).toEqual([]);
  });

  it('refusals exit 125 with the server code; bad usage says what is wrong', async () => {
    const { id } = await startBackground('exit 0');
    await waitFor(() => fx.server.engine.executions.find(id).state === 'exited');
    const invalid = await runCli(['control', id, 'pause'], { url: fx.server.url });
    expect(invalid.code).toBe(125);
    expect(invalid.stderr.toString()).toContain('INVALID_STATE');
    const cases: Array<[string[], string]> = [
      [['control', id], 'missing action'],
      [['control', id, 'explode'], 'unknown action "explode"'],
      [['control', id, 'signal'], 'signal needs a signal name'],
      [['control', id, 'pause', 'extra'], 'unexpected argument "extra"'],
      [['control', id, 'signal', 'NOPE'], 'INVALID_INPUT: unknown signal "NOPE"'],
      [['control', id, 'kill', '--grace', '1s'], '--grace applies to cancel only'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { url: fx.server.url });
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr.toString(), args.join(' ')).toContain(message);
    }
  });
});

describe('the bin: server and client in one', () => {
  it('`serve --port 0` and the bare bin with server flags both start the server; the client runs against it', async () => {
    for (const args of [
      ['serve', '--port', '0'],
      ['--port', '0'],
    ]) {
      const child = spawn(process.execPath, [MAIN_JS, ...args, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
      try {
        let log = '';
        child.stderr.on('data', (d) => (log += String(d)));
        await waitFor(() => /listening on ws:\/\//.test(log), 15_000, `server start (${args.join(' ')})`);
        const url = /listening on (ws:\/\/[^"\s]+)/.exec(log)![1]!;
        const r = await runCli(['run', '--', 'echo via the bin'], { url });
        expect(r.code, r.stderr.toString()).toBe(0);
        expect(r.stdout.toString()).toBe('via the bin\n');
      } finally {
        child.kill('SIGKILL');
      }
    }
  });

  it('--help of the bin lists the client commands above the server options; `help run` shows run', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout.toString()).toMatch(/cc-executor run \[options\][\s\S]*--port VALUE/);
    const help = await runCli(['help', 'run']);
    expect(help.stdout.toString()).toContain('Usage: cc-executor run');
    for (const cmd of ['status', 'control']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toContain(`Usage: cc-executor ${cmd}`);
    }
  });
});
