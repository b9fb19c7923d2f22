// The client's pure helpers: option splitting, durations, env pairs, target URLs, the table fitted to a width.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseDuration, parseEnvPairs, splitAtCommand } from '../../src/cli/args.js';
import { resolveTarget } from '../../src/cli/connect.js';
import { exitStatusOf } from '../../src/cli/exit-codes.js';
import { renderTable } from '../../src/cli/format.js';
import { runCli } from './bin.js';

describe('client arguments', () => {
  const spec = { cwd: { type: 'string' }, env: { type: 'string', short: 'e' }, json: { type: 'boolean' } } as const;

  it('options end at -- or at the first word that is not an option; values of string options are skipped', () => {
    expect(splitAtCommand(['--cwd', '-weird-dir', 'ls', '-la'], spec)).toEqual({
      optionArgs: ['--cwd', '-weird-dir'],
      command: ['ls', '-la'],
    });
    expect(splitAtCommand(['--json', '--', '--not-ours'], spec)).toEqual({ optionArgs: ['--json'], command: ['--not-ours'] });
    expect(splitAtCommand(['-e', 'A=1', '--cwd=/x', 'echo', '--', 'x'], spec)).toEqual({
      optionArgs: ['-e', 'A=1', '--cwd=/x'],
      command: ['echo', '--', 'x'],
    });
    expect(splitAtCommand(['--json'], spec)).toEqual({ optionArgs: ['--json'], command: [] });
  });

  it('durations take ms/s/m/h/d, a bare number is seconds, nonsense is a usage error', () => {
    expect(parseDuration('10m', '--timeout')).toBe(600_000);
    expect(parseDuration('1.5h', '--timeout')).toBe(5_400_000);
    expect(parseDuration('250ms', '--timeout')).toBe(250);
    expect(parseDuration('30', '--timeout')).toBe(30_000);
    expect(() => parseDuration('soon', '--timeout')).toThrow(/--timeout: expected a duration/);
    expect(() => parseDuration('0s', '--timeout')).toThrow(/positive/);
  });

  it('--env K=V sets, --env K passes our value, an unset K is an error', () => {
    expect(parseEnvPairs(['A=1=2', 'B=', 'HOME'], { HOME: '/home/me' })).toEqual({ A: '1=2', B: '', HOME: '/home/me' });
    expect(() => parseEnvPairs(['NOPE'], {})).toThrow(/NOPE is not set here/);
    expect(() => parseEnvPairs(['=x'], {})).toThrow(/NAME=VALUE/);
  });

  it('the target URL: env default, bare host:port, http -> ws, default path, token as a query parameter never shown', () => {
    expect(resolveTarget({}, {}).url.toString()).toBe('ws://127.0.0.1:8003/ws/mcp');
    expect(resolveTarget({}, { CC_EXECUTOR_URL: 'localhost:9000' }).url.toString()).toBe('ws://localhost:9000/ws/mcp');
    expect(resolveTarget({ url: 'https://example.org' }, {}).url.toString()).toBe('wss://example.org/ws/mcp');
    const t = resolveTarget({ url: 'ws://h:1/ws/mcp' }, { CC_EXECUTOR_TOKEN: 's3cret&x' });
    expect(t.url.searchParams.get('token')).toBe('s3cret&x');
    expect(t.display).toBe('ws://h:1/ws/mcp');
    expect(resolveTarget({ url: 'ws://h:1/ws/mcp', token: 'flag' }, { CC_EXECUTOR_TOKEN: 'env' }).url.searchParams.get('token')).toBe(
      'flag',
    );
    expect(() => resolveTarget({ url: 'ftp://x' }, {})).toThrow(/expected ws:\/\//);
  });

  it('exit statuses: the code, or 128+n for signal n', () => {
    expect(exitStatusOf({ exitCode: 3, signal: null })).toBe(3);
    expect(exitStatusOf({ exitCode: null, signal: 'SIGKILL' })).toBe(137);
    expect(exitStatusOf({ exitCode: null, signal: 'SIGINT' })).toBe(130);
  });
});

describe('the executions table', () => {
  const row = (id: string, command: string) => ({
    id,
    state: 'exited',
    exitCode: 0,
    signal: null,
    terminationReason: null,
    durationMs: 61_500,
    command,
  });

  it('fits every line into the width by cutting the command with an ellipsis, and keeps rows on one line', () => {
    const rows = [row('0123456789abcdef', 'x'.repeat(200)), row('fedcba9876543210', 'echo "a\nb"\tc')];
    const table = renderTable(rows, 60);
    const lines = table.split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(60);
    expect(lines[1]).toMatch(/^01234567\s+exited\s+0\s+1m01s\s+x+…$/);
    expect(lines[2]).toMatch(/echo "a\\nb" c$/);
    expect(renderTable(rows, undefined).split('\n')[1]).toContain('x'.repeat(200));
  });
});

describe('the token', () => {
  it('travels as the `token` query parameter; a 401 exits 255 and says to check the token', async () => {
    const seen: string[] = [];
    const http = createServer();
    http.on('upgrade', (req: IncomingMessage, socket) => {
      seen.push(req.url ?? '');
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    try {
      const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws/mcp`;
      const r = await runCli(['status'], { url, env: { CC_EXECUTOR_TOKEN: 'tok en' } });
      expect(r.code).toBe(255);
      expect(r.stderr.toString()).toContain('refused the connection (HTTP 401): check --token or CC_EXECUTOR_TOKEN');
      expect(r.stderr.toString()).not.toMatch(/tok[ +]en/);
      expect(seen).toEqual(['/ws/mcp?token=tok+en']);
    } finally {
      http.closeAllConnections();
      await new Promise((r) => http.close(r));
    }
  });
});
