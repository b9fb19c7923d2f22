// Programs named relative to the execution's cwd start the same in every containment mode, pipes and PTY alike.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containmentModes } from '../../helpers/containment-modes.js';
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
