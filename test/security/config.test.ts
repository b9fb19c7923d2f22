// Security settings from every source: arrays from the config file, comma-separated env and flags, the token aliases.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function load(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const r = loadConfig({ argv, env });
  if (r.kind !== 'config') throw new Error(`expected a config, got ${r.kind}`);
  return r.config;
}

describe('security configuration', () => {
  it('is open by default apart from loopback binding and the command-size cap', () => {
    const c = load([]);
    expect(c).toMatchObject({
      host: '127.0.0.1',
      insecureNoAuth: false,
      allowedOrigins: [],
      allowedHosts: [],
      publicHealth: false,
      deniedCommands: [],
      envPolicy: 'inherit',
      maxOutputBytes: 0,
      maxCommandBytes: 128 * 1024,
      maxExecutionsPerMinute: 0,
    });
    expect(c.authToken).toBeUndefined();
    expect(c.allowedCommands).toBeUndefined();
    expect(c.allowedCwdRoots).toBeUndefined();
  });

  it('reads arrays from the config file, and comma-separated lists from env and flags (flags win)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccx-config-'));
    dirs.push(dir);
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ allowedCommands: ['git', 'npm'], allowedCwdRoots: ['/srv/a'], envAllowlist: ['PATH'] }));
    const c = load(['--config', file, '--allowed-cwd-roots', '/srv/b, /srv/c', '--insecure-no-auth'], {
      CC_EXECUTOR_DENIED_COMMANDS: 'rm,dd,, mkfs ',
      CC_EXECUTOR_ALLOWED_ORIGINS: 'https://a.example',
      CC_EXECUTOR_MAX_OUTPUT_BYTES: '1048576',
    });
    expect(c.allowedCommands).toEqual(['git', 'npm']);
    expect(c.allowedCwdRoots).toEqual(['/srv/b', '/srv/c']);
    expect(c.deniedCommands).toEqual(['rm', 'dd', 'mkfs']);
    expect(c.allowedOrigins).toEqual(['https://a.example']);
    expect(c.envAllowlist).toEqual(['PATH']);
    expect(c.maxOutputBytes).toBe(1_048_576);
    expect(c.insecureNoAuth).toBe(true);
  });

  it('takes the token from CC_EXECUTOR_TOKEN or CC_EXECUTOR_AUTH_TOKEN, and refuses two different ones', () => {
    expect(load([], { CC_EXECUTOR_TOKEN: 'short-name' }).authToken).toBe('short-name');
    expect(load([], { CC_EXECUTOR_AUTH_TOKEN: 'long-name' }).authToken).toBe('long-name');
    expect(load([], { CC_EXECUTOR_TOKEN: 'same', CC_EXECUTOR_AUTH_TOKEN: 'same' }).authToken).toBe('same');
    expect(load(['--auth-token', 'flag'], { CC_EXECUTOR_TOKEN: 'env' }).authToken).toBe('flag');
    expect(() => load([], { CC_EXECUTOR_TOKEN: 'one', CC_EXECUTOR_AUTH_TOKEN: 'two' })).toThrow(ConfigError);
    expect(() => load([], { CC_EXECUTOR_TOKEN: '' })).toThrow(/authToken/);
  });

  it('rejects an unknown env policy with a one-line message', () => {
    expect(() => load(['--env-policy', 'none'])).toThrow(/envPolicy/);
  });
});
