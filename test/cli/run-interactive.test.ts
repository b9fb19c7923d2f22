// `cc-executor run -i` and `-t` with the real bin: stdin streamed to a prompt; in tmux, a real terminal in raw mode.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor, type TestServer } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';
import { killClients, MAIN_JS, spawnCli } from './bin.js';

// Servers and temp dirs a test starts are undone after it; then every process group it saw must be gone.
const fx = useTestServer();
const groups = fx.groups;
const sessions: string[] = [];
// Registered after the fixture, so it runs first: clients and tmux sessions end before the fixture's cleanup.
afterEach(() => {
  killClients();
  for (const s of sessions.splice(0)) {
    try {
      execFileSync('tmux', ['kill-session', '-t', s], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

/** A server for the test; before it closes, the group of every execution it ran is tracked (then checked gone). */
async function start(): Promise<TestServer> {
  const server = await fx.start();
  fx.defer(() => {
    for (const e of server.engine.executions.list()) groups.add(e.snapshot().pgid ?? undefined);
  });
  return server;
}

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

describe('cc-executor run -i', () => {
  it('streams our stdin to the command as it comes, and our EOF closes its stdin', async () => {
    const server = await start();
    const cli = spawnCli(['run', '-i', '--', 'bash', '-c', 'read -r a; echo "first $a"; read -r b; echo "second $b"; cat; echo end'], {
      url: server.url,
      openStdin: true,
    });
    const stdin = cli.child.stdin!;
    stdin.write('one\n');
    await cli.waitForStdout('first one\n', 30_000);
    // The command is still running and waits for more: the second line is sent only now.
    stdin.write('two\n');
    await cli.waitForStdout('second two\n', 30_000);
    stdin.end('rest\n');
    const { code } = await cli.exited;
    expect(cli.stdout().toString()).toBe('first one\nsecond two\nrest\nend\n');
    expect(code).toBe(0);
  });

  it('pipes many MiB into a command that reads slowly: every byte arrives, in order', async () => {
    const server = await start();
    // Reads nothing for a second, then everything: the client must wait for it rather than pile input up.
    const cli = spawnCli(['run', '-i', '--', 'bash', '-c', 'sleep 1; sha256sum'], { url: server.url, openStdin: true });
    const stdin = cli.child.stdin!;
    const hash = createHash('sha256');
    for (let k = 0; k < 6; k++) {
      const block = Buffer.alloc(1 << 20, `${k}abcdefghij\n`);
      hash.update(block);
      if (!stdin.write(block)) await new Promise((r) => stdin.once('drain', r));
    }
    stdin.end();
    const { code } = await cli.exited;
    expect(cli.stderr().toString()).toBe('');
    expect(cli.stdout().toString()).toBe(`${hash.digest('hex')}  -\n`);
    expect(code).toBe(0);
  });
});

describe.runIf(hasTmux())('cc-executor run -t in tmux', () => {
  /** A tmux pane running a plain shell; returns its name and a capture function. */
  function pane(): { name: string; screen: () => string; dir: string } {
    const name = `cce-${process.pid}-${sessions.length}-${Date.now() % 100_000}`;
    const dir = fx.tempDir('cc-executor-tty-');
    tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', 'env -u TMUX PS1="$ " bash --norc --noprofile');
    sessions.push(name);
    return { name, dir, screen: () => tmux('capture-pane', '-p', '-t', name) };
  }

  /** Type a command line into the pane that runs the CLI between two `stty -g` snapshots of the pane's terminal. */
  function runInPane(p: { name: string; dir: string }, url: string, words: string): void {
    const before = join(p.dir, 'before');
    const after = join(p.dir, 'after');
    // Texts the tests wait for are split with "" in the typed line, so its echo on the screen never matches them.
    const line = `stty -g > ${before}; node ${MAIN_JS} run --url '${url}' -t -- ${words}; echo "EX""IT=$?"; stty -g > ${after}`;
    tmux('send-keys', '-t', p.name, '-l', line);
    tmux('send-keys', '-t', p.name, 'Enter');
  }

  // tmux capture-pane drops trailing spaces: prompts are matched without theirs.
  it('answers a prompt on a real terminal of the window size, and leaves the terminal as it was', { timeout: 120_000 }, async () => {
    const server = await start();
    const p = pane();
    runInPane(
      p,
      server.url,
      `'read -p "na""me? " n; echo "hel""lo $n"; python3 -c "import os,sys; print(sys.stdin.isatty(), os.get_terminal_size())"'`,
    );
    await waitFor(() => p.screen().includes('name?'), 30_000, 'the remote prompt');
    tmux('send-keys', '-t', p.name, '-l', 'bob');
    tmux('send-keys', '-t', p.name, 'Enter');
    await waitFor(() => /EXIT=\d/.test(p.screen()), 30_000, 'the command to end');
    const screen = p.screen();
    expect(screen).toContain('hello bob');
    expect(screen).toContain('True os.terminal_size(columns=100, lines=30)');
    expect(screen).toContain('EXIT=0');
    await waitFor(() => existsSync(join(p.dir, 'after')) && readFileSync(join(p.dir, 'after'), 'utf8') !== '', 10_000, 'stty after');
    expect(readFileSync(join(p.dir, 'after'), 'utf8')).toBe(readFileSync(join(p.dir, 'before'), 'utf8'));
  });

  // Ctrl-C is a byte for the remote terminal, whose line discipline sends SIGINT to its foreground job: an interactive
  // shell there (as under `ssh -t`) loses the job and prompts again. A non-interactive `bash -c 'sleep; echo'` would
  // die with its child instead (bash's wait-and-cooperative-exit), on a local terminal as on ours, so it is no test.
  it(
    'forwards Ctrl-C to the remote terminal (a sleep stops, the shell prompts again) and window size changes',
    { timeout: 240_000 },
    async () => {
      const server = await start();
      const p = pane();
      runInPane(p, server.url, `'PS1="re""mote> " exec bash --norc --noprofile -i'`);
      const prompts = () => p.screen().split('remote>').length - 1;
      await waitFor(() => prompts() >= 1, 60_000, 'the remote shell prompt');
      const execution = server.engine.executions.list()[0]!;
      const type = (text: string) => {
        tmux('send-keys', '-t', p.name, '-l', text);
        tmux('send-keys', '-t', p.name, 'Enter');
      };
      type('sleep 100');
      await waitFor(() => (execution.handle.memberCount() ?? 0) >= 2, 60_000, 'sleep to start');
      tmux('send-keys', '-t', p.name, 'C-c');
      await waitFor(() => execution.handle.memberCount() === 1 && prompts() >= 2, 60_000, 'the prompt after Ctrl-C');
      type('echo "al""ive $?"');
      await waitFor(() => p.screen().includes('alive 130'), 60_000, 'the shell to go on (sleep died of SIGINT)');
      expect(execution.snapshot().state).toBe('running');
      tmux('resize-window', '-t', p.name, '-x', '90', '-y', '25');
      await waitFor(() => execution.snapshot().pty?.cols === 90, 60_000, 'the remote terminal to follow the window');
      type('stty size');
      await waitFor(() => p.screen().includes('25 90'), 60_000, 'stty size');
      tmux('send-keys', '-t', p.name, 'C-d');
      await waitFor(() => /EXIT=\d/.test(p.screen()), 30_000, 'the command to end');
      expect(p.screen()).toContain('EXIT=0');
      await waitFor(() => existsSync(join(p.dir, 'after')) && readFileSync(join(p.dir, 'after'), 'utf8') !== '', 10_000, 'stty after');
      expect(readFileSync(join(p.dir, 'after'), 'utf8')).toBe(readFileSync(join(p.dir, 'before'), 'utf8'));
    },
  );
});
