// The `hooks` setting: defaults, validation at load time (bad regex, misplaced keys), and exit 2 from the binary.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, createConfig, loadConfig } from '../../src/config.js';
import { tempDir } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));
let tmp: { dir: string; cleanup: () => void };

beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

function loadFile(content: unknown): unknown {
  const file = join(tmp.dir, 'config.json');
  writeFileSync(file, JSON.stringify(content));
  return loadConfig({ argv: ['--config', file], env: {} });
}

describe('hooks config', () => {
  it('defaults to no hooks, and fills timeoutMs and failClosed in entries', () => {
    expect(createConfig().hooks).toEqual({ preExecute: [], postExecute: [] });
    const config = createConfig({ hooks: { preExecute: [{ command: 'true' }], postExecute: [{ argv: ['/bin/true'], match: '^git ' }] } });
    expect(config.hooks.preExecute).toEqual([{ command: 'true', timeoutMs: 10_000, failClosed: false }]);
    expect(config.hooks.postExecute).toEqual([{ argv: ['/bin/true'], match: '^git ', timeoutMs: 10_000 }]);
  });

  it('rejects a bad regex, both or neither of command/argv, failClosed on a post hook, unknown keys', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ preExecute: [{ command: 'true', match: '(unclosed' }] }, /hooks\.preExecute\.0\.match: not a valid regular expression/],
      [{ preExecute: [{ command: 'true', argv: ['true'] }] }, /hooks\.preExecute\.0: give exactly one of `command` or `argv`/],
      [{ postExecute: [{ timeoutMs: 5 }] }, /hooks\.postExecute\.0: give exactly one/],
      [{ postExecute: [{ command: 'true', failClosed: true }] }, /hooks\.postExecute\.0: .*failClosed/],
      [{ preExecute: [{ command: 'true', timeoutMs: 0 }] }, /hooks\.preExecute\.0\.timeoutMs/],
      [{ onExit: [] }, /hooks: .*onExit/],
    ];
    for (const [hooks, message] of cases) {
      expect(() => loadFile({ hooks }), JSON.stringify(hooks)).toThrow(ConfigError);
      expect(() => loadFile({ hooks }), JSON.stringify(hooks)).toThrow(message);
    }
  });

  it('reads hooks from CC_EXECUTOR_HOOKS as JSON, and says so when it is not JSON', () => {
    const result = loadConfig({ argv: [], env: { CC_EXECUTOR_HOOKS: '{"preExecute":[{"command":"true","match":"^x"}]}' } });
    expect(result.kind === 'config' && result.config.hooks.preExecute[0]).toMatchObject({ command: 'true', match: '^x' });
    expect(() => loadConfig({ argv: [], env: { CC_EXECUTOR_HOOKS: '{nope' } })).toThrow(/CC_EXECUTOR_HOOKS: expected JSON/);
  });

  it('the binary exits 2 with a clear message on a bad hook regex', () => {
    const file = join(tmp.dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ hooks: { preExecute: [{ command: 'true', match: '[z-a]' }] } }));
    const child = spawnSync(process.execPath, [MAIN, '--config', file, '--port', '0'], { encoding: 'utf8', timeout: 20_000 });
    expect(child.status).toBe(2);
    expect(child.stderr).toContain('hooks.preExecute.0.match: not a valid regular expression');
  });
});
