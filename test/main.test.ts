// The built bin run as users run it (an executable file, through its shebang), not as `node main.js`.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from './helpers/server.js';

const MAIN_JS = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
const TRACE_IMPORTS = fileURLToPath(new URL('./fixtures/trace-imports.mjs', import.meta.url));

/** Run the bin with `args`; its exit code, stdout, and the modules it loaded (ours relative to dist/, packages by name). */
function traceBin(args: string[]): { code: number | null; stdout: string; stderr: string; ours: string[]; packages: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'cc-executor-trace-'));
  const file = join(dir, 'imports.txt');
  try {
    const r = spawnSync(process.execPath, ['--import', pathToFileURL(TRACE_IMPORTS).href, MAIN_JS, ...args], {
      // A client command must not reach a real server: port 1 refuses at once.
      env: { ...process.env, TRACE_IMPORTS_FILE: file, CC_EXECUTOR_URL: 'ws://127.0.0.1:1/ws/mcp' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const urls = [
      ...new Set(
        readFileSync(file, 'utf8')
          .split('\n')
          .filter((u) => u !== ''),
      ),
    ];
    const ours = urls.filter((u) => u.includes('/dist/')).map((u) => u.slice(u.lastIndexOf('/dist/') + 6));
    const packages = [
      ...new Set(
        urls
          .filter((u) => u.includes('/node_modules/'))
          .map((u) => {
            const [scope, name] = u.slice(u.lastIndexOf('/node_modules/') + 14).split('/');
            return scope!.startsWith('@') ? `${scope}/${name}` : scope!;
          }),
      ),
    ];
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, ours, packages };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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

describe('what the bin loads', () => {
  it('prints --help from the config schema alone, without loading the server', () => {
    const r = traceBin(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cc-executor run [options]');
    expect(r.stdout).toContain('--max-records');
    expect(r.ours).toContain('src/config.js');
    expect(r.ours).not.toContain('src/serve.js');
    expect(r.ours.filter((m) => m.startsWith('transports/') || m.startsWith('tools/'))).toEqual([]);
    expect(r.packages).toEqual(['zod']);
  });

  it('refuses a bad option next to --help as the server does (one line, exit 2), without loading the server', () => {
    const bad = traceBin(['--help', '--no-such-option']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^cc-executor: .*no-such-option.*\(see --help\)\n$/);
    expect(bad.ours).not.toContain('src/serve.js');
  });

  it('answers --version, help and a client command without the server graph', () => {
    for (const args of [['--version'], ['help', 'run'], ['status', '--help']]) {
      const r = traceBin(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.ours, args.join(' ')).not.toContain('src/serve.js');
      expect(r.packages, args.join(' ')).not.toContain('zod');
    }
  });
});
