// The PTY handle with real programs on real pseudo-terminals: isatty, sizes, keys, REPLs, EOF, the whole session's end.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PtyHandle } from '../../../src/backends/local/pty-handle.js';
import { listSessionMembers } from '../../../src/backends/local/proc.js';
import { renderTerminalText } from '../../../src/processes/terminal-text.js';
import { waitFor } from '../../helpers/server.js';

const handles: PtyHandle[] = [];
afterEach(async () => {
  for (const h of handles.splice(0)) {
    h.kill();
    expect(await h.waitGone(5_000)).toBe(true);
    const sid = h.describe().pid!;
    expect(listSessionMembers(sid)).toEqual([]);
  }
});

/** The command name of the terminal's foreground process group leader in session `sid` (stat's tpgid), if any. */
function foregroundJob(sid: number): string | undefined {
  for (const m of listSessionMembers(sid)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${m.pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const tpgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[5]);
    if (m.pid === tpgid && m.pgid === tpgid) return comm;
  }
  return undefined;
}

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', PS1: '$ ' };

function start(file: string, args: string[], size = { cols: 80, rows: 24 }) {
  const handle = PtyHandle.spawn({ file, args, cwd: '/tmp', env, size });
  handles.push(handle);
  let raw = '';
  handle.stdout.on('data', (d: Buffer) => (raw += d.toString('utf8')));
  return { handle, text: () => renderTerminalText(raw), raw: () => raw };
}

describe('PtyHandle', () => {
  it('runs the command on a terminal of the requested size with TERM set', async () => {
    const p = start(
      'python3',
      ['-c', 'import os,sys; print(sys.stdin.isatty(), sys.stdout.isatty(), os.get_terminal_size(), os.environ["TERM"])'],
      {
        cols: 91,
        rows: 27,
      },
    );
    expect(await p.handle.exit).toEqual({ exitCode: 0, signal: null });
    expect(p.text()).toContain('True True os.terminal_size(columns=91, lines=27) xterm-256color');
    // The terminal sends \r\n: the log keeps the raw bytes, the renderer gives plain lines.
    expect(p.raw()).toContain('\r\n');
    expect(p.handle.pty).toEqual({ cols: 91, rows: 27 });
  });

  it('resizes the terminal and the program sees the new size', async () => {
    const p = start('bash', ['--norc', '--noprofile', '-c', 'read; stty size; read; stty size']);
    await waitFor(() => p.handle.waitingForInput() === true, 15_000, 'the first read');
    p.handle.stdin.write('\n');
    await waitFor(() => p.text().includes('24 80'), 15_000, 'the first size');
    p.handle.resize({ cols: 132, rows: 40 });
    expect(p.handle.pty).toEqual({ cols: 132, rows: 40 });
    p.handle.stdin.write('\n');
    expect(await p.handle.exit).toEqual({ exitCode: 0, signal: null });
    expect(p.text()).toContain('40 132');
    expect(() => p.handle.resize({ cols: 0, rows: 10 })).toThrow(RangeError);
  });

  it('says the program waits for input at a prompt, and the answer reaches it', async () => {
    const p = start('bash', ['--norc', '--noprofile', '-c', 'read -p "name? " n; echo "hello $n"']);
    await waitFor(() => p.handle.waitingForInput() === true, 15_000, 'the read');
    // The handle reports the blocked read at once; the prompt's bytes may still be on their way.
    await waitFor(() => p.text().includes('name?'), 15_000, 'the prompt');
    p.handle.stdin.write('bob\n');
    expect(await p.handle.exit).toEqual({ exitCode: 0, signal: null });
    expect(p.text()).toContain('hello bob');
  });

  it('does not say a sleeping program waits for input', async () => {
    const p = start('sleep', ['30']);
    await waitFor(() => p.handle.memberCount() === 1, 10_000, 'sleep to start');
    await new Promise((r) => setTimeout(r, 300));
    expect(p.handle.waitingForInput()).toBe(false);
  });

  it('stops a foreground sleep with Ctrl-C and the interactive shell survives', async () => {
    const p = start('bash', ['--norc', '--noprofile', '-i']);
    await waitFor(() => p.handle.waitingForInput() === true, 15_000, 'the shell prompt');
    p.handle.stdin.write('sleep 100\r');
    // Ctrl-C reaches the terminal's foreground job: wait until that is sleep itself, not bash's fork on its way
    // there (a ^C before the job takes the terminal goes to the shell, which only clears its line).
    await waitFor(() => foregroundJob(p.handle.describe().pid!) === 'sleep', 15_000, 'sleep to run in the foreground');
    p.handle.stdin.write('\u0003');
    await waitFor(() => p.handle.memberCount() === 1, 15_000, 'sleep to stop');
    p.handle.stdin.write('echo "alive $((6*7))"\r');
    await waitFor(() => p.text().includes('alive 42'), 15_000, 'the shell to answer');
    p.handle.stdin.write('exit\r');
    expect((await p.handle.exit).exitCode).toBe(0);
  });

  it('talks to a Python REPL', async () => {
    const p = start('python3', ['-q']);
    await waitFor(() => p.handle.waitingForInput() === true, 15_000, 'the >>> prompt');
    p.handle.stdin.write('print(6*7)\r');
    await waitFor(() => /^42$/m.test(p.text()), 15_000, 'the answer');
    p.handle.stdin.end(); // Ctrl-D at the prompt
    expect(await p.handle.exit).toEqual({ exitCode: 0, signal: null });
  });

  it('runs top in batch mode', async () => {
    const p = start('top', ['-b', '-n', '1']);
    expect(await p.handle.exit).toEqual({ exitCode: 0, signal: null });
    expect(p.text()).toMatch(/PID\s+USER/);
  });

  it('ends stdin with Ctrl-D: cat sees end-of-file', async () => {
    const p = start('cat', []);
    p.handle.stdin.write('one\n');
    p.handle.stdin.end();
    expect(await p.handle.exit).toEqual({ exitCode: 0, signal: null });
    expect(p.text()).toContain('one');
  });

  it('terminates every process group of the session, background jobs included', async () => {
    const p = start('bash', ['--norc', '--noprofile', '-i']);
    await waitFor(() => p.handle.waitingForInput() === true, 15_000, 'the shell prompt');
    // Job control gives each job its own process group; all of them are the session's.
    p.handle.stdin.write('sleep 300 & sleep 301 & trap "" TERM; sleep 302\r');
    await waitFor(() => p.handle.memberCount() >= 4, 15_000, 'the jobs to start');
    const sid = p.handle.describe().pid!;
    expect(new Set(listSessionMembers(sid).map((m) => m.pgid)).size).toBeGreaterThanOrEqual(3);
    expect(await p.handle.terminate(500)).toBe(true);
    expect(listSessionMembers(sid)).toEqual([]);
    expect(p.handle.isAlive()).toBe(false);
    expect(p.handle.signal('SIGTERM')).toBe(false);
  });

  it('reports a signal death by name', async () => {
    const p = start('sleep', ['30']);
    await waitFor(() => p.handle.memberCount() === 1, 10_000, 'sleep to start');
    expect(p.handle.signal('SIGKILL')).toBe(true);
    expect(await p.handle.exit).toEqual({ exitCode: null, signal: 'SIGKILL' });
  });

  it('delivers every byte a command printed before it exited, also when it exits at once', async () => {
    // libuv takes a hang-up after a short read for end-of-file, and node-pty drops what the kernel still
    // holds (microsoft/node-pty#72): seq's last few KB went missing in most runs.
    const expected = Array.from({ length: 3000 }, (_, i) => `${i + 1}\r\n`).join('');
    for (let run = 0; run < 12; run++) {
      const p = start('seq', ['1', '3000']);
      const ended = new Promise((resolve) => p.handle.stdout.once('end', resolve));
      expect(await p.handle.exit).toEqual({ exitCode: 0, signal: null });
      await ended;
      expect({ run, bytes: p.raw().length, tail: p.raw().slice(-20) }).toEqual({ run, bytes: expected.length, tail: expected.slice(-20) });
    }
  });

  it('throws ENOENT for a missing program instead of starting a terminal', () => {
    expect(() => PtyHandle.spawn({ file: 'no-such-program-xyz', args: [], cwd: '/tmp', env, size: { cols: 80, rows: 24 } })).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});
