// No ~/.bashrc runs for a command given stdin, even when the server has no SHLVL (systemd, Docker, cron, setsid).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withoutShellStartupFiles } from '../../../src/backends/local/shell-startup.js';
import { ProcessGroup } from '../../../src/backends/local/process-group.js';

const home = mkdtempSync(join(tmpdir(), 'cc-executor-home-'));
writeFileSync(join(home, '.bashrc'), 'echo BASHRC-RAN\n');
afterAll(() => rmSync(home, { recursive: true, force: true }));
const bareEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };

function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    stream?.on('data', (d: Buffer) => (out += d.toString()));
    stream?.on('close', () => resolve(out));
  });
}

describe('shell startup files', () => {
  // Debian and Ubuntu build bash with SSH_SOURCE_BASHRC; elsewhere the hazard (and this proof of it) does not exist.
  it.runIf(existsSync('/etc/debian_version'))('is a real hazard: bash -c with socket stdin and no SHLVL runs ~/.bashrc', async () => {
    const child = spawn('/bin/bash', ['-c', 'echo ran'], { env: bareEnv, stdio: ['pipe', 'pipe', 'ignore'] });
    // bash never reads it: on a loaded machine it may have exited before the write (EPIPE is expected then).
    child.stdin.on('error', () => undefined);
    child.stdin.end('x');
    const out = await collect(child.stdout);
    expect(out).toBe('BASHRC-RAN\nran\n');
  });

  it('never runs ~/.bashrc for a command given stdin when SHLVL is unset or 0', async () => {
    for (const env of [bareEnv, { ...bareEnv, SHLVL: '0' }]) {
      const group = await ProcessGroup.spawn({ file: '/bin/bash', args: ['-c', 'cat; echo " level $SHLVL"'], cwd: home, env, stdin: 'in' });
      const out = await collect(group.child.stdout);
      await group.leaderExit;
      expect(out).toBe('in level 2\n');
    }
  });

  it('keeps a SHLVL of 1 or more as it is', () => {
    const env = { ...bareEnv, SHLVL: '3' };
    expect(withoutShellStartupFiles(env)).toBe(env);
    expect(withoutShellStartupFiles({ ...bareEnv, SHLVL: 'x' }).SHLVL).toBe('1');
  });
});
