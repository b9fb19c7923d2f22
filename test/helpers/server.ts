// Real servers on port 0 and real SDK clients for tests; every process group a test sees is checked gone at the end.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createConfig, type ConfigSchema } from '../../src/config.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { createLogger } from '../../src/logger.js';
import type { Execution } from '../../src/processes/execution.js';
import { listGroupMembers, listProcesses } from '../../src/backends/local/proc.js';
import { startNetworkServer, type NetworkServer } from '../../transports/http.js';
import type { z } from 'zod';

export interface TestServer {
  engine: Engine;
  net: NetworkServer;
  url: string;
  close(): Promise<void>;
}

export async function startTestServer(overrides: Partial<z.input<typeof ConfigSchema>> = {}): Promise<TestServer> {
  const ownDir = overrides.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'cc-executor-test-')) : undefined;
  const config = createConfig({ port: 0, logLevel: 'silent', graceMs: 1_000, dataDir: ownDir, ...overrides });
  const engine = createEngine(config, createLogger(config.logLevel), { sampleLoad: false });
  await engine.records.init();
  const net = await startNetworkServer(engine);
  return {
    engine,
    net,
    url: net.url,
    async close() {
      await engine.close({ graceMs: 200 });
      await net.close();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
  };
}

export async function connectWs(url: string): Promise<Client> {
  const client = new Client({ name: 'cc-executor-test', version: '0.0.0' });
  await client.connect(new WebSocketClientTransport(new URL(url)));
  return client;
}

/** SDK Client over Streamable HTTP; `transport.terminateSession()` sends the DELETE. */
export async function connectHttp(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'cc-executor-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

export interface Collected {
  stdout: string;
  stderr: string;
  notifications: Array<{ progress: number; total?: number; message?: string; _meta?: Record<string, unknown> }>;
}

/** Call a tool with onprogress and collect the streamed output per stream. */
export async function callWithProgress(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  options: { signal?: AbortSignal; timeout?: number } = {},
): Promise<{ result: CallToolResult; streamed: Collected }> {
  const streamed: Collected = { stdout: '', stderr: '', notifications: [] };
  const result = (await client.callTool({ name, arguments: args }, undefined, {
    ...options,
    onprogress: (p) => {
      streamed.notifications.push(p);
      const meta = (p as { _meta?: Record<string, unknown> })._meta ?? {};
      const stream = meta['cc-executor/stream'];
      if (stream === 'stdout') streamed.stdout += p.message ?? '';
      if (stream === 'stderr') streamed.stderr += p.message ?? '';
    },
  })) as CallToolResult;
  return { result, streamed };
}

export function structured(result: CallToolResult): any {
  return result.structuredContent as any;
}

export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** Wait until `check` returns true (polling), or fail after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Process groups seen by a test; `expectGroupsGone` asserts none has a live member. */
export class GroupTracker {
  private readonly pgids = new Set<number>();
  add(pgid: number | null | undefined): void {
    if (typeof pgid === 'number' && pgid > 0) this.pgids.add(pgid);
  }
  addResult(result: CallToolResult): void {
    this.add(structured(result)?.pgid);
  }
  async expectGroupsGone(timeoutMs = 5_000): Promise<void> {
    const pgids = new Set(this.pgids);
    this.pgids.clear();
    // One /proc scan per check for all groups: hundreds of groups (the fuzz test) would otherwise cost a scan each.
    const left = () => listProcesses((m) => pgids.has(m.pgid));
    await waitFor(() => left().length === 0, timeoutMs, `process groups ${[...pgids].join(',')} to die`).catch(() => undefined);
    expect(
      left().map((m) => `${m.pgid}/${m.pid}:${m.state}`),
      'members of tracked process groups',
    ).toEqual([]);
  }
}

/**
 * Whether everything an execution started is stopped: its cgroup frozen (cgroup containment pauses with
 * cgroup.freeze, and frozen tasks do not show state T) or every member of its process group in state T.
 */
export function isStopped(execution: Execution): boolean {
  const s = execution.snapshot();
  if (s.cgroup) return readFileSync(join(s.cgroup, 'cgroup.events'), 'utf8').includes('frozen 1');
  const members = listGroupMembers(s.pgid!);
  return members.length > 0 && members.every((m) => m.state === 'T');
}

/** The cgroup v2 directory of a process (hybrid layout first), or null. */
function cgroupDirOf(pid: number): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  const path = text
    .split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);
  if (!path) return null;
  for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
    try {
      readFileSync(join(root, path, 'cgroup.events'), 'utf8');
      return join(root, path);
    } catch {
      // not this mount
    }
  }
  return null;
}

/**
 * Whether every member of a process group is stopped: state T, or (cgroup containment pauses with cgroup.freeze,
 * and frozen tasks do not show state T) its cgroup frozen.
 */
export function isGroupStopped(pgid: number): boolean {
  return listGroupMembers(pgid).every((m) => {
    if (m.state === 'T') return true;
    const dir = cgroupDirOf(m.pid);
    return dir !== null && readFileSync(join(dir, 'cgroup.events'), 'utf8').includes('frozen 1');
  });
}

/** One process stopped: state T, or its cgroup frozen. */
export function isProcessStopped(pid: number): boolean {
  const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
  if (state === 'T') return true;
  const dir = cgroupDirOf(pid);
  return dir !== null && readFileSync(join(dir, 'cgroup.events'), 'utf8').includes('frozen 1');
}
