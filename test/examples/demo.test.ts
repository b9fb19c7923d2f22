// The demo is the README's usage example: it must keep passing against the real binary.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../../dist/examples/demo.js', import.meta.url));

describe('npm run demo', () => {
  it('walks through every step over WebSocket, Streamable HTTP and stdio and saves each response as prettified JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-demo-'));
    // On failure the demo prints which step failed on stdout: show it, not only "Command failed".
    const { stdout } = await promisify(execFile)(process.execPath, [DEMO], {
      env: { ...process.env, CC_EXECUTOR_DEMO_DIR: dir, CC_EXECUTOR_DEMO_DATA: dir },
      timeout: 60_000,
    }).catch((e: { message: string; stdout?: string; stderr?: string }) => {
      throw new Error(`${e.message}\nstdout:\n${e.stdout ?? ''}\nstderr:\n${e.stderr ?? ''}`);
    });
    expect(stdout).toContain('all steps ok');
    const files = readdirSync(join(dir, 'responses', 'demo')).sort();
    expect(files).toHaveLength(11);
    for (const f of files) {
      const text = readFileSync(join(dir, 'responses', 'demo', f), 'utf8');
      expect(text.startsWith('{\n  "step"')).toBe(true);
      expect(JSON.parse(text).ok).toBe(true);
    }
  }, 90_000);
});
