// Choosing the containment mode at start, and checking a request's limits against what is enforceable here.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CgroupTree } from '../../../src/backends/local/cgroup-tree.js';
import {
  chooseContainment,
  configLimits,
  ContainmentUnavailableError,
  mergeLimits,
  type Containment,
} from '../../../src/backends/local/containment.js';
import { createConfig } from '../../../src/config.js';
import { ServerError } from '../../../src/errors.js';

const dirs: string[] = [];
const chosen: Containment[] = [];
afterEach(async () => {
  for (const c of chosen.splice(0)) await c.tree?.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cc-containment-'));
  dirs.push(d);
  return d;
}
/** /proc files of a machine without cgroup v2. */
function noCgroup2(): { procSelfCgroup: string; mountinfo: string } {
  const d = dataDir();
  writeFileSync(join(d, 'cgroup'), '4:memory:/\n');
  writeFileSync(join(d, 'mountinfo'), '');
  return { procSelfCgroup: join(d, 'cgroup'), mountinfo: join(d, 'mountinfo') };
}
function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof ServerError ? `${e.code}: ${e.message}` : String(e);
  }
  return undefined;
}

const probe = CgroupTree.detect(mkdtempSync(join(tmpdir(), 'cc-containment-probe-')));
if (probe.ok) await probe.tree.close();

describe('chooseContainment', () => {
  it('"process-group" never touches cgroupfs', () => {
    expect(chooseContainment('process-group', dataDir())).toEqual({
      mode: 'process-group',
      reason: expect.stringContaining('configured') as unknown,
      tree: null,
    });
  });

  it('"auto" falls back to process groups and says why', () => {
    const c = chooseContainment('auto', dataDir(), noCgroup2());
    expect(c.mode).toBe('process-group');
    expect(c.reason).toMatch(/cgroup v2 unavailable \(no cgroup v2 .*\); a process group cannot hold setsid/);
  });

  it('"cgroup" refuses with a one-line reason when it cannot be had', () => {
    expect(() => chooseContainment('cgroup', dataDir(), noCgroup2())).toThrow(ContainmentUnavailableError);
    expect(() => chooseContainment('cgroup', dataDir(), noCgroup2())).toThrow(/^containment "cgroup" is not available: [^\n]+$/);
  });

  it.skipIf(!probe.ok)('"auto" picks cgroups where this machine offers them', () => {
    const c = chooseContainment('auto', dataDir());
    chosen.push(c);
    expect(c.mode).toBe('cgroup');
    expect(c.reason).toContain(c.tree!.serverDir);
  });
});

describe('mergeLimits', () => {
  const pg: Containment = { mode: 'process-group', reason: 'configured', tree: null };

  it('asks for nothing when neither the server nor the request sets a limit', () => {
    expect(mergeLimits(configLimits(createConfig()), undefined, pg)).toEqual({});
  });

  it('refuses any limit under process groups, saying why', () => {
    expect(code(() => mergeLimits({}, { pidsMax: 10 }, pg))).toMatch(/^INVALID_INPUT: cannot enforce pidsMax: .*process groups/);
  });

  it.skipIf(!probe.ok)('lets a request tighten, never loosen, and refuses limits whose controller is not enabled', () => {
    const c = chooseContainment('cgroup', dataDir());
    chosen.push(c);
    const tree = c.tree!;
    for (const [limit, server, tighter, looser] of [
      ['pidsMax', { pidsMax: 100 }, { pidsMax: 10 }, { pidsMax: 1000 }],
      ['memoryMaxBytes', { memoryMaxBytes: 1e8 }, { memoryMaxBytes: 1e7 }, { memoryMaxBytes: 1e9 }],
      ['cpuMax', { cpuMax: '50000 100000' }, { cpuMax: '10000 100000' }, { cpuMax: '100000 100000' }],
    ] as const) {
      expect(code(() => mergeLimits(server, looser, c))).toMatch(new RegExp(`^INVALID_INPUT: ${limit} .* may only tighten`));
      const why = tree.unsupportedLimit(limit);
      if (why) expect(code(() => mergeLimits(server, tighter, c))).toBe(`INVALID_INPUT: cannot enforce ${limit}: ${why}`);
      else expect(mergeLimits(server, tighter, c)).toEqual(tighter);
    }
  });
});
