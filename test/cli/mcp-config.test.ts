// `cc-executor mcp-config` entries start a working server from any directory, and that server writes nothing there.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { callTool, startTestServer, structured, type TestServer } from '../helpers/server.js';
import { killClients, runCli } from './bin.js';

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** The Claude Code CLI, when this machine has it (CLAUDE_BIN or `claude` on PATH); CI may not. */
function findClaude(): string | undefined {
  const candidates = [process.env.CLAUDE_BIN, 'claude'].filter((c): c is string => c !== undefined && c !== '');
  for (const c of candidates) {
    try {
      execFileSync(c, ['--version'], { stdio: 'ignore', timeout: 30_000 });
      return c;
    } catch {
      // not this one
    }
  }
  return undefined;
}

let server: TestServer | undefined;
afterEach(async () => {
  killClients();
  await server?.close();
  server = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('cc-executor mcp-config', () => {
  it('prints a stdio entry with absolute paths that an SDK client starts from another directory, and the server writes nothing there', async () => {
    const project = tempDir('cc-project-');
    const state = tempDir('cc-state-');
    const printed = await runCli(['mcp-config', '--', '--default-timeout-ms', '5000'], { cwd: project });
    expect(printed.code).toBe(0);
    const entry = JSON.parse(printed.stdout.toString()) as { type: string; command: string; args: string[] };
    expect(entry.type).toBe('stdio');
    expect(entry.command).toBe(process.execPath);
    expect(entry.args[0]).toMatch(/^\/.*\/dist\/src\/main\.js$/);
    expect(entry.args.slice(1)).toEqual(['--stdio', '--default-timeout-ms', '5000']);

    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: state, XDG_STATE_HOME: state };
    const transport = new StdioClientTransport({ command: entry.command, args: entry.args, cwd: project, env, stderr: 'pipe' });
    const client = new Client({ name: 'mcp-config-test', version: '0' });
    await client.connect(transport);
    try {
      const result = structured(await callTool(client, 'execute', { command: 'pwd; echo hi' }));
      expect(result).toMatchObject({ exitCode: 0, stdout: `${project}\nhi\n` });
    } finally {
      await client.close();
    }
    expect(readdirSync(project)).toEqual([]);
    // The record went to the user's state directory instead.
    expect(existsSync(join(state, 'cc-executor', 'responses'))).toBe(true);
    expect(readdirSync(join(state, 'cc-executor', 'responses')).some((f) => f.endsWith('.json'))).toBe(true);
  });

  it('prints the WebSocket entry Claude Code takes (the inner entry, not an mcpServers object), and both with --all', async () => {
    const ws = await runCli(['mcp-config', '--ws', '--url', 'ws://127.0.0.1:9999/ws/mcp']);
    expect(JSON.parse(ws.stdout.toString())).toEqual({
      type: 'ws',
      url: 'ws://127.0.0.1:9999/ws/mcp',
      headers: { Authorization: 'Bearer ${CC_EXECUTOR_TOKEN:-}' },
      timeout: 3_600_000,
    });
    const all = JSON.parse((await runCli(['mcp-config', '--all', '--name', 'exec'])).stdout.toString()) as {
      mcpServers: Record<string, { type: string }>;
    };
    expect(Object.keys(all.mcpServers)).toEqual(['exec', 'exec-ws']);
    expect(all.mcpServers.exec!.type).toBe('stdio');
    const bad = await runCli(['mcp-config', '--ws', '--all']);
    expect(bad.code).toBe(125);
    expect(bad.stderr.toString()).toContain('--ws and --all exclude each other');
  });

  const claude = findClaude();
  it.skipIf(claude === undefined)(
    'connects through the real Claude Code CLI from a directory outside the checkout (stdio and ws entries)',
    async () => {
      server = await startTestServer();
      const project = tempDir('cc-claude-project-');
      const home = tempDir('cc-claude-home-');
      const env = { ...process.env, HOME: home, XDG_STATE_HOME: home, CC_EXECUTOR_URL: server.url };
      // Asynchronous: the WebSocket server lives in this process and must answer while claude runs.
      const claudeRun = async (args: string[]) =>
        (await promisify(execFile)(claude!, args, { cwd: project, env, encoding: 'utf8', timeout: 120_000 })).stdout;
      const stdioEntry = (await runCli(['mcp-config'])).stdout.toString().trim();
      const wsEntry = (await runCli(['mcp-config', '--ws'], { url: server.url })).stdout.toString().trim();
      expect(await claudeRun(['mcp', 'add-json', 'exec-stdio', stdioEntry])).toContain('Added stdio MCP server');
      expect(await claudeRun(['mcp', 'add-json', 'exec-ws', wsEntry])).toContain('Added ws MCP server');
      expect(await claudeRun(['mcp', 'get', 'exec-stdio'])).toMatch(/Status: .*Connected/);
      expect(await claudeRun(['mcp', 'get', 'exec-ws'])).toMatch(/Status: .*Connected/);
      // Claude Code's own behaviour (2.1.19x), documented in docs/clients.md: `list` leaves ws servers out.
      const list = await claudeRun(['mcp', 'list']);
      expect(list).toContain('exec-stdio');
      expect(readdirSync(project)).toEqual([]);
    },
    180_000,
  );
});
