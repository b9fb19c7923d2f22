// Start-up detection of bubblewrap: a clear reason when it is missing, a working tool set when it runs.
import { describe, expect, it } from 'vitest';
import { probeBubblewrap } from '../../../src/backends/local/bubblewrap-probe.js';

describe('probeBubblewrap', () => {
  it('says what to install when bwrap is not on PATH', () => {
    const probe = probeBubblewrap('/nonexistent-dir');
    expect(probe.ok).toBe(false);
    if (!probe.ok) expect(probe.reason).toMatch(/bwrap is not on PATH: install bubblewrap \(Debian\/Ubuntu: apt-get install bubblewrap/);
  });

  it('finds bwrap and env on PATH and proves they can build a sandbox, or says why not', () => {
    const probe = probeBubblewrap();
    if (!probe.ok) {
      // Only where bwrap cannot run: the reason must be one line that says what to do.
      console.warn(`bwrap unusable here: ${probe.reason}`);
      expect(probe.reason).not.toContain('\n');
      return;
    }
    expect(probe.tools.bwrap).toMatch(/\/bwrap$/);
    expect(probe.tools.env).toMatch(/\/env$/);
    expect(probe.tools.version).toMatch(/^bubblewrap \d/);
    expect(probe.tools.asRoot).toBe(process.getuid?.() === 0);
  });
});
