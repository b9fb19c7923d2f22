// A PTY execution inside the bubblewrap sandbox, through the real server and SDK client: a terminal, prompts, keys, size.
import { beforeEach, describe, expect, it } from 'vitest';
import { probeBubblewrap } from '../../src/backends/local/bubblewrap-probe.js';
import { callTool, structured } from '../helpers/server.js';
import { useTestServer, type ServerOverrides } from '../helpers/use-test-server.js';

const probe = probeBubblewrap();
if (!probe.ok) console.warn(`sandbox PTY tests skipped, bwrap cannot run here: ${probe.reason}`);

// Servers, clients and temp dirs a test starts are undone after it; then every process group it saw must be gone.
const fx = useTestServer();
const groups = fx.groups;
let dir: string;

beforeEach(() => {
  dir = fx.tempDir('ccx-sandbox-pty-');
});

/** A server that sandboxes every command (unless `overrides` say otherwise), and its client. */
const serve = (overrides: ServerOverrides = {}) => fx.serve({ sandbox: 'always', ...overrides });

async function execute(args: Record<string, unknown>): Promise<any> {
  const result = await callTool(fx.client, 'execute', { cwd: dir, ...args });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  groups.addResult(result);
  return structured(result);
}

async function write(args: Record<string, unknown>): Promise<any> {
  const result = await callTool(fx.client, 'write_stdin', { waitMs: 10_000, ...args });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return structured(result);
}

// Both ways a server holds a sandbox: the cgroup around it (the default where cgroups can be made), a process group.
describe.skipIf(!probe.ok).each([{ containment: 'auto' as const }, { containment: 'process-group' as const }])(
  'interactive executions inside the sandbox (containment $containment)',
  ({ containment }) => {
    it('is a terminal of the requested size, answers a prompt through write_stdin, and stays sandboxed', async () => {
      await serve({ containment });
      const s = await execute({
        command:
          'python3 -c "import os,sys; print(sys.stdin.isatty(), sys.stdout.isatty(), os.get_terminal_size())"; ' +
          'read -p "name? " n; echo "hello $n"; touch /etc/ccx-pty-probe 2>/dev/null || echo "etc is read-only"',
        pty: { cols: 83, rows: 21 },
      });
      expect(s.sandbox).not.toBeNull();
      expect(s.waitingForInput).toBe(true);
      expect(s.stdout).toContain('True True os.terminal_size(columns=83, lines=21)');
      expect(s.stdout).toContain('name?');
      const r = await write({ id: s.id, data: 'bob\r' });
      expect(r.state).toBe('exited');
      expect(r.exitCode).toBe(0);
      expect(r.output.stdout).toContain('hello bob');
      expect(r.output.stdout).toContain('etc is read-only');
    });

    it('runs an interactive shell on its terminal: Ctrl-C stops a sleep and the shell survives, resize reaches it', async () => {
      await serve({ containment });
      const s = await execute({ argv: ['bash', '--norc', '--noprofile', '-i'], pty: true, env: { PS1: 'box$ ' } });
      expect(s.waitingForInput).toBe(true);
      const sleeping = await write({ id: s.id, data: 'sleep 100\r', waitMs: 1_500 });
      expect(sleeping.state).toBe('running');
      expect(sleeping.waitingForInput).toBe(false);
      const interrupted = await write({ id: s.id, data: '\u0003' });
      expect(interrupted.state).toBe('running');
      expect(interrupted.waitingForInput).toBe(true);
      const resized = await callTool(fx.client, 'control', { id: s.id, action: 'resize', cols: 101, rows: 33 });
      expect(resized.isError).toBeFalsy();
      const size = await write({ id: s.id, data: 'echo "status $? size $(stty size)"\r' });
      expect(size.output.stdout).toContain('status 130 size 33 101');
      const bye = await write({ id: s.id, data: 'exit\r' });
      expect(bye.state).toBe('exited');
      expect(bye.exitCode).toBe(0);
    });

    it('does not take bwrap for a reader: an interactive pipe execution waits for input only once the command reads', async () => {
      await serve({ containment });
      // The read comes after a second of work and a line of output: waiting before it would be bwrap's own poll.
      const s = await execute({ command: 'sleep 1; echo ready; read -r x; echo "got $x"', interactive: true });
      expect(s.state).toBe('running');
      expect(s.waitingForInput).toBe(true);
      expect(s.stdout).toBe('ready\n');
      const r = await write({ id: s.id, data: 'it\n' });
      expect(r.exitCode).toBe(0);
      expect(r.output.stdout).toBe('got it\n');
    });
  },
);
