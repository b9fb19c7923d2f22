// Command policy through the real server and SDK client: allow/deny lists and their bypass attempts, cwd roots, env policy.
import { chmodSync, copyFileSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callTool, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

// Servers, clients and temp dirs a test starts are undone after it; then every process group it saw must be gone.
const fx = useTestServer();
const groups = fx.groups;
let dir: string;

beforeEach(() => {
  dir = fx.tempDir('ccx-policy-');
});

async function run(args: Record<string, unknown>): Promise<any> {
  const result = await callTool(fx.client, 'execute', args);
  groups.addResult(result);
  return { ...structured(result), isError: result.isError === true };
}

function victim(): string {
  const file = join(dir, 'victim');
  writeFileSync(file, 'still here');
  return file;
}

describe('allowedCommands', () => {
  it('refuses every shell string, so `;`, `&&`, `$(...)`, backticks and newlines cannot smuggle in rm', async () => {
    await fx.serve({ allowedCommands: ['echo'] });
    const file = victim();
    for (const command of [
      `echo x; rm -f ${file}`,
      `echo x && rm -f ${file}`,
      `echo $(rm -f ${file})`,
      `echo \`rm -f ${file}\``,
      `echo x\nrm -f ${file}`,
      'echo plain',
    ]) {
      const r = await run({ command, cwd: dir });
      expect(r.isError, command).toBe(true);
      expect(r.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'allowedCommands' } });
      expect(r.error.message).toContain('argv');
    }
    expect(existsSync(file)).toBe(true);
  });

  it('runs the allowed executable by name or by any path to the same file', async () => {
    await fx.serve({ allowedCommands: ['echo'] });
    expect((await run({ argv: ['echo', 'by name'], cwd: dir })).stdout).toBe('by name\n');
    expect((await run({ argv: ['/bin/echo', 'by path'], cwd: dir })).stdout).toBe('by path\n');
    expect((await run({ argv: ['/usr/bin/echo', 'by other path'], cwd: dir })).stdout).toBe('by other path\n');
  });

  it('refuses other executables however they are named: by name, absolute path, symlink with an allowed name, a shell', async () => {
    await fx.serve({ allowedCommands: ['echo'] });
    const file = victim();
    mkdirSync(join(dir, 'bin'));
    symlinkSync('/bin/rm', join(dir, 'bin', 'echo')); // named like the allowed program, but it is rm
    copyFileSync('/bin/rm', join(dir, 'echo-copy'));
    for (const argv of [
      ['rm', '-f', file],
      ['/bin/rm', '-f', file],
      [join(dir, 'bin', 'echo'), '-f', file],
      ['./bin/echo', '-f', file],
      [join(dir, 'echo-copy'), '-f', file],
      ['sh', '-c', `rm -f ${file}`],
      ['no-such-program-xyz'],
    ]) {
      const r = await run({ argv, cwd: dir });
      expect(r.isError, argv.join(' ')).toBe(true);
      expect(r.error.code, argv.join(' ')).toBe('FORBIDDEN');
    }
    expect(existsSync(file)).toBe(true);
  });

  it('refuses the allowed file under another name, as a multi-call binary (busybox) would run another applet', async () => {
    await fx.serve({ allowedCommands: ['echo'] });
    symlinkSync('/bin/echo', join(dir, 'rm'));
    const r = await run({ argv: ['./rm', 'x'], cwd: dir });
    expect(r.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'allowedCommands', executable: join(dir, 'rm') } });
  });

  it("resolves names through the server's PATH, so a request's PATH cannot swap in another program", async () => {
    await fx.serve({ allowedCommands: ['echo'] });
    const fake = join(dir, 'fake');
    mkdirSync(fake);
    const marker = join(dir, 'fake-ran');
    writeFileSync(join(fake, 'echo'), `#!/bin/sh\ntouch ${marker}\necho fake\n`);
    chmodSync(join(fake, 'echo'), 0o755);
    // A request's PATH is refused outright now; a hook may still set it (checked again after hooks, same rule),
    // and the program is still resolved through the server's PATH.
    const refused = await run({ argv: ['echo', 'real'], cwd: dir, env: { PATH: fake } });
    expect(refused.error).toMatchObject({ code: 'FORBIDDEN', details: { env: ['PATH'] } });
    const r = await run({ argv: ['echo', 'real'], cwd: dir, env: { FAKE_DIR: fake } });
    expect(r.stdout).toBe('real\n');
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses loader and shell start-up variables in the request environment', async () => {
    await fx.serve({ allowedCommands: ['echo'] });
    const names = ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'DYLD_INSERT_LIBRARIES', 'GCONV_PATH', 'BASH_ENV', 'ENV', 'PATH'];
    names.push('SHELLOPTS', 'BASHOPTS', 'PS4', 'BASH_FUNC_echo%%');
    for (const name of names) {
      const r = await run({ argv: ['echo', 'x'], cwd: dir, env: { [name]: join(dir, 'evil') } });
      expect(r.error, name).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'allowedCommands', env: [name] } });
    }
    // Ordinary variables, and names that merely contain a refused one, still pass.
    const ok = await run({ argv: ['echo', 'x'], cwd: dir, env: { CI: '1', MY_PATH: '/x', ENVIRONMENT: 'dev', XLD_PRELOAD: 'y' } });
    expect(ok.isError).toBe(false);
    expect(ok.stdout).toBe('x\n');
  });

  it('refuses the same variables with only deniedCommands set, and not at all without a command list', async () => {
    await fx.serve({ deniedCommands: ['rm'] });
    const r = await run({ argv: ['echo', 'x'], cwd: dir, env: { BASH_ENV: join(dir, 'evil') } });
    expect(r.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'deniedCommands', env: ['BASH_ENV'] } });
    await fx.client.close();
    await fx.server.close();
    await fx.serve({});
    const free = await run({ argv: ['echo', 'x'], cwd: dir, env: { PS4: 'p4', BASH_ENV: join(dir, 'none') } });
    expect(free.isError).toBe(false);
    expect(free.stdout).toBe('x\n');
  });

  it("checks again what a preExecute hook changed: a hook's rewrite cannot run a forbidden program", async () => {
    const file = victim();
    const rewrite = `process.stdin.resume(); process.stdin.on('end', () => console.log(JSON.stringify({ argv: ['rm', '-f', ${JSON.stringify(file)}] })))`;
    await fx.serve({ allowedCommands: ['echo'], hooks: { preExecute: [{ argv: [process.execPath, '-e', rewrite] }] } });
    const r = await run({ argv: ['echo', 'x'], cwd: dir });
    expect(r.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'allowedCommands' } });
    expect(existsSync(file)).toBe(true);
  });

  it('with an empty list, runs nothing', async () => {
    await fx.serve({ allowedCommands: [] });
    expect((await run({ argv: ['echo', 'x'], cwd: dir })).error.code).toBe('FORBIDDEN');
  });
});

describe('deniedCommands', () => {
  it('refuses the denied executable by name, path, symlink under another name, or copy under its name', async () => {
    await fx.serve({ deniedCommands: ['rm'] });
    const file = victim();
    symlinkSync('/bin/rm', join(dir, 'del'));
    mkdirSync(join(dir, 'copy'));
    copyFileSync('/bin/rm', join(dir, 'copy', 'rm'));
    for (const argv of [
      ['rm', '-f', file],
      ['/bin/rm', '-f', file],
      ['/usr/bin/rm', '-f', file],
      [join(dir, 'del'), '-f', file],
      ['./copy/rm', '-f', file],
    ]) {
      const r = await run({ argv, cwd: dir });
      expect(r.error, argv.join(' ')).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'deniedCommands' } });
    }
    expect(existsSync(file)).toBe(true);
    expect((await run({ argv: ['echo', 'fine'], cwd: dir })).stdout).toBe('fine\n');
  });

  it('refuses shell strings, because a denylist cannot be enforced on them', async () => {
    await fx.serve({ deniedCommands: ['rm'] });
    const r = await run({ command: 'echo harmless', cwd: dir });
    expect(r.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'deniedCommands' } });
  });
});

describe('allowedCwdRoots', () => {
  it('runs inside a root and in its subdirectories, in the real directory that was checked', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    symlinkSync(root, join(dir, 'root-link'));
    await fx.serve({ allowedCwdRoots: [join(dir, 'root-link')] });
    expect((await run({ command: 'pwd', cwd: root })).stdout).toBe(`${root}\n`);
    expect((await run({ command: 'pwd', cwd: join(root, 'sub') })).stdout).toBe(`${join(root, 'sub')}\n`);
    expect((await run({ command: 'pwd', cwd: join(dir, 'root-link', 'sub') })).stdout).toBe(`${join(root, 'sub')}\n`);
  });

  it('refuses `..`, symlinks out of the root, look-alike prefixes and the default cwd outside the roots', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    mkdirSync(join(dir, 'rootx'));
    symlinkSync('/etc', join(root, 'escape'));
    await fx.serve({ allowedCwdRoots: [root] });
    for (const cwd of [join(root, '..'), `${root}/sub/../..`, join(root, 'escape'), join(dir, 'rootx'), '/', undefined]) {
      const r = await run({ command: 'pwd', ...(cwd === undefined ? {} : { cwd }) });
      expect(r.isError, String(cwd)).toBe(true);
      expect(['FORBIDDEN', 'INVALID_CWD'], String(cwd)).toContain(r.error.code);
    }
    const escaped = await run({ command: 'pwd', cwd: join(root, 'escape') });
    expect(escaped.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'allowedCwdRoots', cwd: '/etc' } });
    const dflt = await run({ command: 'pwd' });
    expect(dflt.error).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'allowedCwdRoots', cwd: realpathSync(process.cwd()) } });
  });
});

describe('envPolicy', () => {
  const SECRET = 'CC_POLICY_TEST_SECRET';
  afterEach(() => {
    delete process.env[SECRET];
  });

  it('allowlist: children see only listed variables, the request env and the non-interactive defaults', async () => {
    process.env[SECRET] = 'do-not-pass';
    await fx.serve({ envPolicy: 'allowlist', envAllowlist: ['PATH', 'HOME'] });
    const r = await run({ command: 'env', cwd: dir, env: { FROM_REQUEST: 'yes' } });
    const names = (r.stdout as string)
      .trim()
      .split('\n')
      .map((l) => l.split('=')[0]);
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).toContain('FROM_REQUEST=yes');
    expect(r.stdout).toContain('PAGER=cat');
    expect(r.stdout).toContain(`PATH=${process.env.PATH}`);
    // bash adds PWD, SHLVL and _ itself; the server names the execution (CC_EXECUTOR_EXECUTION_ID, for crash recovery)
    const allowed = new Set(['PATH', 'HOME', 'FROM_REQUEST', 'PWD', 'SHLVL', '_', 'CC_EXECUTOR_EXECUTION_ID']);
    const extra = names.filter((n) => !allowed.has(n!) && !/PAGER|EDITOR|VISUAL|GIT_TERMINAL_PROMPT|DEBIAN_FRONTEND/.test(n!));
    expect(extra).toEqual([]);
  });

  it('allowlist entries ending in * pass every variable with that prefix', async () => {
    process.env[SECRET] = 'passed-by-prefix';
    await fx.serve({ envPolicy: 'allowlist', envAllowlist: ['PATH', 'CC_POLICY_*'] });
    expect((await run({ command: `echo $${SECRET}`, cwd: dir })).stdout).toBe('passed-by-prefix\n');
  });

  it('inherit (the default) passes the server environment', async () => {
    process.env[SECRET] = 'inherited';
    await fx.serve({});
    expect((await run({ command: `echo $${SECRET}`, cwd: dir })).stdout).toBe('inherited\n');
  });
});
