// Which executions are sandboxed, and how: the server's settings, tightened but never loosened by a request.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createConfig } from '../../src/config.js';
import { ServerError } from '../../src/errors.js';
import { resolveSandboxSpec, sandboxSettings, type SandboxSettings } from '../../src/policy/sandbox-policy.js';

let dir: string;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'ccx-sbpolicy-')));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function settings(over: Partial<SandboxSettings> = {}): SandboxSettings {
  return { mode: 'available', network: 'none', writableRoots: ['.'], hide: [], ...over };
}

function refusal(fn: () => unknown): ServerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ServerError) return e;
    throw e;
  }
  throw new Error('expected a ServerError');
}

describe('sandboxSettings', () => {
  it("expands ~ against the server's HOME and always hides the data dir and the config file", () => {
    const config = createConfig({ sandbox: 'always', dataDir: 'some-data', sandboxHide: ['~/.ssh', '/etc/shadow'] });
    const s = sandboxSettings(config, 'conf/server.json', '/home/me');
    expect(s.hide).toEqual(['/home/me/.ssh', '/etc/shadow', join(process.cwd(), 'some-data'), join(process.cwd(), 'conf/server.json')]);
    expect(s.writableRoots).toEqual(['.']);
    expect(s.mode).toBe('always');
  });

  it('defaults to off, no network, the cwd writable, and the usual credential stores hidden', () => {
    const s = sandboxSettings(createConfig({}), undefined, '/h');
    expect(s).toMatchObject({ mode: 'off', network: 'none', writableRoots: ['.'] });
    for (const p of ['/h/.ssh', '/h/.aws', '/h/.gnupg', '/h/.config/gh', '/h/.netrc', '/h/.docker', '/h/.kube'])
      expect(s.hide).toContain(p);
  });
});

describe('resolveSandboxSpec', () => {
  it('sandboxes nothing when off, and refuses a request that asks for a sandbox there', () => {
    expect(resolveSandboxSpec(settings({ mode: 'off' }), undefined, dir)).toBeNull();
    expect(resolveSandboxSpec(settings({ mode: 'off' }), false, dir)).toBeNull();
    expect(refusal(() => resolveSandboxSpec(settings({ mode: 'off' }), true, dir)).code).toBe('INVALID_INPUT');
  });

  it('sandboxes only requests that ask when "available", with the cwd writable by default', () => {
    expect(resolveSandboxSpec(settings(), undefined, dir)).toBeNull();
    expect(resolveSandboxSpec(settings(), true, dir)).toEqual({ network: 'none', writableRoots: [dir], hide: [] });
  });

  it('sandboxes every execution when "always", and a request cannot opt out', () => {
    expect(resolveSandboxSpec(settings({ mode: 'always' }), undefined, dir)).not.toBeNull();
    const e = refusal(() => resolveSandboxSpec(settings({ mode: 'always' }), false, dir));
    expect(e).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'sandbox' } });
  });

  it('lets a request tighten the network but never loosen it', () => {
    expect(resolveSandboxSpec(settings({ network: 'host' }), { network: 'none' }, dir)?.network).toBe('none');
    expect(resolveSandboxSpec(settings({ network: 'host' }), true, dir)?.network).toBe('host');
    const e = refusal(() => resolveSandboxSpec(settings({ network: 'none' }), { network: 'host' }, dir));
    expect(e).toMatchObject({ code: 'FORBIDDEN', details: { policy: 'sandboxNetwork' } });
  });

  it("lets a request narrow the writable roots to paths inside the server's, never outside, not even through a symlink", () => {
    mkdirSync(join(dir, 'sub'));
    expect(resolveSandboxSpec(settings(), { writableRoots: ['sub'] }, dir)?.writableRoots).toEqual([join(dir, 'sub')]);
    expect(resolveSandboxSpec(settings(), { writableRoots: [] }, dir)?.writableRoots).toEqual([]);
    expect(refusal(() => resolveSandboxSpec(settings(), { writableRoots: ['/etc'] }, dir)).details).toMatchObject({
      policy: 'sandboxWritableRoots',
    });
    expect(refusal(() => resolveSandboxSpec(settings(), { writableRoots: ['..'] }, dir)).code).toBe('FORBIDDEN');
    symlinkSync('/usr', join(dir, 'usr-link'));
    expect(refusal(() => resolveSandboxSpec(settings(), { writableRoots: ['usr-link'] }, dir)).code).toBe('FORBIDDEN');
  });

  it('refuses a cwd or writable root inside a hidden path, which the sandbox could not show', () => {
    mkdirSync(join(dir, 'secret', 'inner'), { recursive: true });
    const hidden = settings({ hide: [join(dir, 'secret')] });
    expect(refusal(() => resolveSandboxSpec(hidden, true, join(dir, 'secret', 'inner'))).details).toMatchObject({ policy: 'sandboxHide' });
    // A hidden path inside the cwd is fine: it is covered over.
    expect(resolveSandboxSpec(hidden, true, dir)?.hide).toEqual([join(dir, 'secret')]);
  });
});
