// "Waiting for input" from /proc on real processes reading (or not reading) their stdin pipe.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { inspectInputWait, isWaitingForInput, readInputTarget } from '../../../src/backends/local/stdin-wait.js';
import { waitFor } from '../../helpers/server.js';

const children: ChildProcess[] = [];
afterEach(() => {
  // The whole group: a pipeline's members and a sleep outlive a SIGKILL to bash alone.
  for (const c of children.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

function run(script: string): { pid: number; child: ChildProcess } {
  const child = spawn('bash', ['--norc', '--noprofile', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  children.push(child);
  return { pid: child.pid!, child };
}

describe('stdin wait detection', () => {
  it('sees a shell blocked in read on its stdin, and not once the line arrived', async () => {
    const { pid, child } = run('read -r x; echo "got $x"; sleep 30');
    const target = readInputTarget(pid)!;
    expect(target).toMatch(/^(pipe|socket):\[\d+\]$/);
    await waitFor(() => inspectInputWait(pid, new Set([target])) === 'reading', 15_000, 'the read');
    expect(isWaitingForInput([pid], new Set([target]))).toBe(true);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin!.write('bob\n');
    await waitFor(() => out.includes('got bob'), 15_000, 'the echo');
    await waitFor(() => isWaitingForInput([pid], new Set([target])) === false, 15_000, 'the sleep');
  });

  it('recognises a read on a duplicate of stdin', async () => {
    const { pid } = run('exec 5<&0; read -r -u 5 x');
    const target = readInputTarget(pid)!;
    await waitFor(() => inspectInputWait(pid, new Set([target])) === 'reading', 15_000, 'the read on fd 5');
  });

  it('does not count a read on another pipe or a sleep as waiting for stdin', async () => {
    const { pid } = run('sleep 30 | read -r x');
    const target = readInputTarget(pid)!;
    await waitFor(() => readInputTarget(pid) !== null, 5_000, 'the shell');
    await new Promise((r) => setTimeout(r, 500));
    // bash waits in wait4; its children read another pipe and sleep.
    expect(isWaitingForInput([pid], new Set([target]))).toBe(false);
  });

  it('returns null when it has nothing to look at', () => {
    expect(isWaitingForInput([process.pid], new Set())).toBeNull();
    expect(isWaitingForInput([2 ** 22 + 17], new Set(['pipe:[1]']))).toBeNull();
  });
});
