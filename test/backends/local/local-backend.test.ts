// The local backend with real processes: a process group and everything in it, and recovery after a server died.
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../../src/backends/local/local-backend.js';
import { listGroupMembers } from '../../../src/backends/local/proc.js';
import { recoverGroup } from '../../../src/backends/local/recover-group.js';
import type { ProcessHandle } from '../../../src/backends/backend.js';
import { waitFor } from '../../helpers/server.js';

const handles: ProcessHandle[] = [];
afterEach(() => {
  for (const h of handles.splice(0)) h.kill();
});

async function spawn(backend: LocalBackend, command: string): Promise<ProcessHandle> {
  const handle = await backend.spawn(backend.prepare({ id: 't', command, env: {} }));
  handles.push(handle);
  return handle;
}

describe('LocalBackend (real processes)', () => {
  it('prepares the shell, an existing cwd and the environment with non-interactive defaults', () => {
    const backend = new LocalBackend({ shell: '/no/such/shell' });
    const launch = backend.prepare({ id: 't', command: 'true', cwd: '/tmp', env: { A: '1', PATH: null } });
    expect(launch).toMatchObject({ file: '/bin/sh', args: ['-c', 'true'], cwd: '/tmp' });
    expect(launch.env).toMatchObject({ A: '1', PAGER: 'cat' });
    expect(launch.env.PATH).toBeUndefined();
    expect(() => backend.prepare({ id: 't', command: 'true', cwd: '/no/such/dir', env: {} })).toThrow(
      expect.objectContaining({ code: 'INVALID_CWD' }),
    );
  });

  it('a program that cannot start is SPAWN_FAILED with its errno', async () => {
    const backend = new LocalBackend({ shell: '/bin/sh' });
    await expect(backend.spawn(backend.prepare({ id: 't', argv: ['/no/such/program'], env: {} }))).rejects.toMatchObject({
      code: 'SPAWN_FAILED',
      details: { errno: 'ENOENT' },
    });
  });

  it('the handle holds the whole group: members outlive the leader, and terminate takes them all', async () => {
    const backend = new LocalBackend({ shell: '/bin/sh' });
    const handle = await spawn(backend, 'sleep 60 & sleep 60 & echo started');
    const { pgid } = handle.describe();
    expect(pgid).toBe(handle.describe().pid);
    await handle.exit;
    await waitFor(() => handle.memberCount() === 2, 10_000, 'two sleeps left behind by the leader');
    expect(handle.isAlive()).toBe(true);
    expect(await handle.terminate(2_000)).toBe(true);
    expect(handle.isAlive()).toBe(false);
    expect(listGroupMembers(pgid!)).toEqual([]);
    expect(handle.signal('SIGTERM')).toBe(false);
  });

  it('recover kills what a dead server left in a group, and never a group whose leader start time differs', async () => {
    const backend = new LocalBackend({ shell: '/bin/sh' });
    const handle = await spawn(backend, 'sleep 60 & sleep 60; wait');
    await waitFor(() => handle.memberCount() >= 3, 10_000, 'the group with its children');
    const description = handle.describe();
    const stranger = { ...description, startTicks: (description.startTicks as number) + 1 };
    expect(await recoverGroup(stranger, 500)).toEqual({ killed: false });
    expect(handle.isAlive()).toBe(true);
    expect(await backend.recover(description, 2_000)).toEqual({ killed: true });
    await waitFor(() => listGroupMembers(description.pgid!).length === 0, 10_000, 'the group to be gone');
    expect(await backend.recover(description, 500)).toEqual({ killed: false });
  });
});
