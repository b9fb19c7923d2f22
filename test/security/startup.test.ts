// The real binary: refusing an unauthenticated non-loopback bind, the token from the environment, and no token in any log.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { callTool, connectWs, structured } from '../helpers/server.js';
import { MAIN_JS, spawnServer, type ServerProcess } from '../helpers/spawn-server.js';

const TOKEN = 'startup-secret-5f1d0c8e9a7b4c2d';

let proc: ServerProcess | undefined;
afterEach(() => {
  proc?.kill();
  proc = undefined;
});

/** Run the binary to its exit (for configurations that must not start). */
function runToExit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN_JS, '--port', '0', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after 15 s: ${stderr}`));
    }, 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['mcp']);
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('error', (e) => {
      if (!String(e.message).includes('Unexpected server response')) reject(e);
    });
  });
}

describe('startup', () => {
  it('refuses to listen beyond loopback without a token: exit 2 and a message saying what to do', async () => {
    for (const host of ['0.0.0.0', '::']) {
      const { code, stderr } = await runToExit(['--host', host]);
      expect(code, host).toBe(2);
      expect(stderr).toContain(`refusing to listen on ${host} without an auth token`);
      expect(stderr).toContain('CC_EXECUTOR_TOKEN');
      expect(stderr).toContain('--insecure-no-auth');
      expect(stderr).not.toContain('listening on');
    }
  });

  it('refuses two different tokens in CC_EXECUTOR_TOKEN and CC_EXECUTOR_AUTH_TOKEN', async () => {
    const { code, stderr } = await runToExit([], { CC_EXECUTOR_TOKEN: 'one-token-abc', CC_EXECUTOR_AUTH_TOKEN: 'other-token-xyz' });
    expect(code).toBe(2);
    expect(stderr).toContain('both set and differ');
    expect(stderr).not.toContain('one-token-abc');
    expect(stderr).not.toContain('other-token-xyz');
  });

  it('starts on 0.0.0.0 with --insecure-no-auth, saying loudly that anyone can run commands', async () => {
    proc = await spawnServer(['--host', '0.0.0.0', '--insecure-no-auth']);
    expect(proc.stderr()).toContain('ANYONE who can reach this address can run commands');
  });

  it('says once at start, on loopback without a token, that any local process can connect', async () => {
    proc = await spawnServer([]);
    const client = await connectWs(proc.url);
    await callTool(client, 'execute', { argv: ['true'] });
    await client.close();
    expect(proc.stderr().split('no authToken configured').length - 1).toBe(1);
  });

  it('takes the token from CC_EXECUTOR_TOKEN on 0.0.0.0, and never writes it to a log or to a child', async () => {
    proc = await spawnServer(['--host', '0.0.0.0', '--log-level', 'trace'], { CC_EXECUTOR_TOKEN: TOKEN });
    const local = proc.url.replace('0.0.0.0', '127.0.0.1');
    expect(await upgradeStatus(local)).toBe(401);
    expect(await upgradeStatus(`${local}?token=wrong-${TOKEN}`)).toBe(401);
    const client = await connectWs(`${local}?token=${TOKEN}`);
    const r = structured(await callTool(client, 'execute', { command: 'env; echo "args: $*"' }));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain(TOKEN);
    expect(r.stdout).not.toContain('CC_EXECUTOR_TOKEN');
    await callTool(client, 'execute', { argv: ['no-such-program-xyz'] });
    await client.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(proc.stderr()).toContain('request refused');
    expect(proc.stderr()).toContain('execution started');
    expect(proc.stderr()).not.toContain(TOKEN);
    expect(proc.stderr()).not.toContain('token=');
  });
});
