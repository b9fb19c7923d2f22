// A data directory holding N past executions, cloned from what a real server writes for one, cached between bench runs.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ChildSet } from './children.js';
import { installGlobalWebSocket } from './global-websocket.js';
import { startServer } from './server.js';

/** Bump when the way fixtures are made changes: a cached directory of another version is rebuilt. */
const FIXTURE_VERSION = 1;
/** Cloned executions start here, one second apart, so every real one sorts after them. */
const CLONE_EPOCH_MS = Date.parse('2020-01-01T00:00:00.000Z');

function compact(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '');
}

function walk(dir: string, out: string[] = []): string[] {
  // Appends in place: a spread of 300,000 paths into push() overflows the stack.
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/**
 * `tmp/bench/history-<n>`: a data directory with `n` finished executions. The template is whatever a real
 * server writes for one `execute` (record, logs, in whatever layout the server uses today); each clone
 * gets its own id and start time in file names and contents. Executions the bench adds later are
 * removed by `resetHistoryFixture`, so the directory can be reused.
 */
export async function ensureHistoryFixture(children: ChildSet, n: number, progress: (m: string) => void): Promise<string> {
  const dir = `tmp/bench/history-${n}`;
  const stamp = join(dir, '.fixture');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === `${FIXTURE_VERSION}:${n}`) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  progress(`history fixture: one real execution as the template`);
  installGlobalWebSocket();
  const server = await startServer(children, [], { dataDir: dir });
  let id: string;
  let startedAt: string;
  try {
    const client = new Client({ name: 'cc-executor-bench-fixture', version: '0.0.0' });
    await client.connect(new WebSocketClientTransport(new URL(server.url)));
    const r = await client.callTool({ name: 'execute', arguments: { command: 'echo template' } });
    const s = r.structuredContent as { id: string; startedAt: string };
    id = s.id;
    startedAt = s.startedAt;
    await client.close();
  } finally {
    await server.stop();
  }
  const stampOf = compact(new Date(startedAt));
  const templates = walk(dir)
    .filter((p) => p.includes(id))
    .map((p) => ({ path: relative(dir, p), text: readFileSync(p, 'utf8') }));
  if (templates.length === 0) throw new Error(`the server wrote no file naming execution ${id} under ${dir}`);
  for (const t of templates) rmSync(join(dir, t.path));

  progress(`history fixture: writing ${n} executions (${templates.length} files each) to ${dir}, once`);
  for (let i = 0; i < n; i++) {
    const cloneId = randomUUID();
    const at = new Date(CLONE_EPOCH_MS + i * 1000);
    const swap = (s: string) => s.split(id).join(cloneId).split(stampOf).join(compact(at)).split(startedAt).join(at.toISOString());
    for (const t of templates) {
      const path = join(dir, swap(t.path));
      if (i === 0) mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, swap(t.text).replace('echo template', `echo history ${i}`));
    }
  }
  writeFileSync(stamp, `${FIXTURE_VERSION}:${n}`);
  return dir;
}

/** Remove every file the bench's own executions added (anything newer than the clones), keep the clones. */
export function resetHistoryFixture(dir: string, n: number): void {
  const lastClone = compact(new Date(CLONE_EPOCH_MS + n * 1000));
  for (const p of walk(dir)) {
    const m = /(\d{8}T\d{6}\.\d{3}Z)_/.exec(p);
    if (m && m[1]! > lastClone) rmSync(p, { force: true });
  }
}
