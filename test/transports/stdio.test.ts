// The real binary on stdio, driven by the SDK's StdioClientTransport.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isProcessAlive, listGroupMembers } from '../../src/backends/local/proc.js';
import { callWithProgress, structured, waitFor } from '../helpers/server.js';

const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

describe('stdio transport', () => {
  it('serves execute with progress, and a closed client kills its processes', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MAIN, '--stdio', '--log-level', 'silent'],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stdio-test', version: '0' });
    await client.connect(transport);
    const { result, streamed } = await callWithProgress(client, 'execute', { command: 'echo hello; echo oops >&2; exit 4' });
    expect(structured(result)).toMatchObject({ exitCode: 4, stdout: 'hello\n', stderr: 'oops\n' });
    expect(streamed.stdout).toBe('hello\n');
    expect(streamed.stderr).toBe('oops\n');

    const bg = structured((await client.callTool({ name: 'execute', arguments: { command: 'sleep 60', background: true } })) as never);
    const serverPid = transport.pid!;
    await client.close();
    await waitFor(() => !isProcessAlive(serverPid), 8_000, 'server to exit after stdin EOF');
    expect(listGroupMembers(bg.pgid)).toEqual([]);
  });

  it('writes nothing but protocol on stdout and exits cleanly on stdin EOF', async () => {
    const child = spawn(process.execPath, [MAIN, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } } })}\n`,
    );
    await waitFor(() => stdout.includes('\n'), 20_000, 'initialize reply');
    child.stdin.end();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    for (const line of stdout.trim().split('\n')) expect(JSON.parse(line).jsonrpc).toBe('2.0');
    expect(stderr).toContain('serving MCP on stdio');
  });
});
