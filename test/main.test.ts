// The built bin run as users run it (an executable file, through its shebang), not as `node main.js`.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from './helpers/server.js';

const MAIN_JS = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));

describe('the cc-executor bin', () => {
  it('starts the server through its shebang with a small V8 young generation', async () => {
    // npm marks a package's bin executable when it installs it; tsc does not.
    chmodSync(MAIN_JS, 0o755);
    const dataDir = mkdtempSync(join(tmpdir(), 'cc-executor-bin-'));
    const child = spawn(MAIN_JS, ['--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`code ${code} signal ${signal}`)));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor(() => stderr.includes('listening on'), 20_000, 'the server to listen');
      // env -S execs node in place: the same pid, with the shebang's flags in its argv.
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain('--max-semi-space-size=8');
      expect(argv.some((a) => a.endsWith('main.js'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited, `stderr: ${stderr.slice(-1500)}`).toBe('code 0 signal null');
    } finally {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
