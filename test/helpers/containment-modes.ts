// The containment modes this machine offers, probed once per test file: cgroup where a writable cgroup2 exists.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupTree } from '../../src/backends/local/cgroup-tree.js';

/** `['cgroup', 'process-group']` where cgroups work, else `['process-group']` (with a warning naming why). */
export async function containmentModes(): Promise<Array<'cgroup' | 'process-group'>> {
  const probeDir = mkdtempSync(join(tmpdir(), 'cc-modes-probe-'));
  try {
    const probe = CgroupTree.detect(probeDir);
    if (!probe.ok) {
      console.warn(`cgroup containment not tested here: ${probe.reason}`);
      return ['process-group'];
    }
    await probe.tree.close();
    return ['cgroup', 'process-group'];
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
}
