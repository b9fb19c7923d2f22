// Programs named relative to the execution's cwd start the same in every containment mode, pipes and PTY alike;
// under cgroup containment a command is born in its execution's cgroup and the server stays in its own.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containmentModes } from '../../helpers/containment-modes.js';
import { eventually } from '../../helpers/proc.js';
import { callTool, connectWs, startTestServer, structured, type TestServer } from '../../helpers/server.js';

const modes = await containmentModes();

describe.each(modes)('program lookup with %s containment', (containment) => {
  let server: TestServer;
  let client: Client;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-program-lookup-'));
    writeFileSync(join(dir, 'build.sh'), '#!/bin/sh\necho "built in $(pwd)"\n');
    chmodSync(join(dir, 'build.sh'), 0o755);
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'tool'), '#!/bin/sh\necho "tool ran"\n');
    chmodSync(join(dir, 'bin', 'tool'), 0o755);
    server = await startTestServer({ containment });
    client = await connectWs(server.url);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([false, true])('runs ./build.sh from the cwd it names (pty: %s)', async (pty) => {
    const r = structured(await callTool(client, 'execute', { argv: ['./build.sh'], cwd: dir, pty }));
    expect(r).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(r.stdout).toContain(`built in ${dir}`);
  });

  it('finds a program through a PATH entry relative to the cwd', async () => {
    const r = structured(await callTool(client, 'execute', { argv: ['tool'], cwd: dir, env: { PATH: `bin:${process.env.PATH}` } }));
    expect(r).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(r.stdout).toContain('tool ran');
  });

  it('a directory given as the program is SPAWN_FAILED with EACCES, like a missing one with ENOENT', async () => {
    const isDir = await callTool(client, 'execute', { argv: [dir] });
    expect(isDir.isError).toBe(true);
    expect(structured(isDir).error).toMatchObject({ code: 'SPAWN_FAILED', details: { errno: 'EACCES' } });
    const missing = await callTool(client, 'execute', { argv: ['./no-such-program'], cwd: dir });
    expect(structured(missing).error).toMatchObject({ code: 'SPAWN_FAILED', details: { errno: 'ENOENT' } });
  });
});

describe.skipIf(!modes.includes('cgroup'))('commands forked into their cgroup', () => {
  let server: TestServer;
  let client: Client;
  beforeAll(async () => {
    server = await startTestServer({ containment: 'cgroup' });
    client = await connectWs(server.url);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('starts argv and shell commands inside their execution cgroup while the server stays in its own', async () => {
    const home = readFileSync('/proc/self/cgroup', 'utf8');
    for (const args of [{ argv: ['cat', '/proc/self/cgroup'] }, { command: 'cat /proc/self/cgroup' }]) {
      const r = structured(await callTool(client, 'execute', args));
      expect(r).toMatchObject({ state: 'exited', exitCode: 0 });
      const cgroup = r.cgroup as string;
      expect(cgroup).toContain(r.id as string);
      // /proc/self/cgroup names the path below the cgroup2 mount; `cgroup` is the full directory.
      const line = (r.stdout as string).split('\n').find((l) => l.startsWith('0::'));
      expect(line).toBeDefined();
      expect(cgroup.endsWith(line!.slice(3))).toBe(true);
      expect(readFileSync('/proc/self/cgroup', 'utf8')).toBe(home);
    }
  });

  it('a program that cannot start is SPAWN_FAILED, leaves no cgroup behind and the server in its own', async () => {
    const home = readFileSync('/proc/self/cgroup', 'utf8');
    const missing = await callTool(client, 'execute', { argv: ['/no/such/program'] });
    expect(structured(missing).error).toMatchObject({ code: 'SPAWN_FAILED', details: { errno: 'ENOENT' } });
    expect(readFileSync('/proc/self/cgroup', 'utf8')).toBe(home);
    // The server's level holds one cgroup per execution; earlier runs' are removed once they are gone.
    const reason = server.engine.backend.capabilities().containment.reason;
    const serverDir = /under ([^\s;]+)/.exec(reason)?.[1] ?? '';
    expect(existsSync(serverDir)).toBe(true);
    const executionDirs = () => readdirSync(serverDir, { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(await eventually(() => executionDirs().length === 0)).toBe(true);
  });
});
