// The final record replaces the first one on disk: in place when it fits one page (no new inode), else by a
// renamed temp file; either way the file on disk is one whole, valid, final record, written before execute
// answers that the run finished.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LegacyClient, type RpcMessage } from '../helpers/legacy-client.js';
import { callTool, connectWs, startTestServer, structured, waitFor, type TestServer } from '../helpers/server.js';
import { spawnServer } from '../helpers/spawn-server.js';

let server: TestServer | undefined;
let dataDir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

function recordFile(dir: string, id: string): string {
  const responses = join(dir, 'responses');
  const name = readdirSync(responses).find((f) => f.endsWith(`${id}.json`));
  if (!name) throw new Error(`no record of ${id}`);
  return join(responses, name);
}

describe('final record', () => {
  it('overwrites a longer first record in place: same file, valid JSON, final state, the old tail blanked', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cc-final-record-'));
    server = await startTestServer({ dataDir });
    const client = await connectWs(server.url);
    const run = structured(await callTool(client, 'execute', { command: 'sleep 1; echo done', background: true }));
    const file = await (async () => {
      let path = '';
      await waitFor(() => {
        try {
          path = recordFile(dataDir!, run.id);
          return (JSON.parse(readFileSync(path, 'utf8')) as { state: string }).state === 'running';
        } catch {
          return false;
        }
      });
      return path;
    })();
    // As if the first record had been much longer than the final one will be (same file, same inode, one page).
    const first = readFileSync(file, 'utf8');
    expect(first.length).toBeLessThan(3_500);
    writeFileSync(file, `${first}${'x'.repeat(4_000 - first.length)}`);
    const inode = statSync(file).ino;

    await server.engine.executions.find(run.id).done;
    await server.engine.records.settled(run.id);
    const text = readFileSync(file, 'utf8');
    const record = JSON.parse(text) as { id: string; state: string; exitCode: number; stdout: string };
    expect(record).toMatchObject({ id: run.id, state: 'exited', exitCode: 0, stdout: 'done\n' });
    expect(text).not.toContain('x'.repeat(10));
    expect(statSync(file).ino).toBe(inode);
    await client.close();
  });

  it('writes a final record too big for one page through a temp file, whole and final', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cc-final-record-'));
    server = await startTestServer({ dataDir });
    const client = await connectWs(server.url);
    // 20,000 characters of inline output: the final record is several pages.
    const run = structured(await callTool(client, 'execute', { command: "head -c 20000 /dev/zero | tr '\\0' y" }));
    await server.engine.records.settled(run.id);
    const record = JSON.parse(readFileSync(recordFile(dataDir, run.id), 'utf8')) as { state: string; stdout: string };
    expect(record.state).toBe('exited');
    expect(record.stdout).toBe('y'.repeat(20_000));
    expect(readdirSync(join(dataDir, 'responses')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await client.close();
  });

  it('answers execute only once the final record and the output logs are on disk (the built server, another process)', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cc-final-record-'));
    const srv = await spawnServer(['--data-dir', dataDir]);
    const client = await connectWs(srv.url);
    try {
      // Silent runs and runs with output, one after another: each answer is checked against the disk at once.
      for (let i = 0; i < 20; i++) {
        const args = i % 2 === 0 ? { argv: ['true'] } : { command: `echo run ${i}; echo err >&2` };
        const r = structured(await callTool(client, 'execute', args));
        expect(r).toMatchObject({ state: 'exited', exitCode: 0 });
        const record = JSON.parse(readFileSync(recordFile(dataDir, r.id), 'utf8')) as {
          state: string;
          exitCode: number;
          logs: { stdout: string; stderr: string };
        };
        expect(record).toMatchObject({ state: 'exited', exitCode: 0 });
        if (i % 2 === 1) {
          expect(readFileSync(record.logs.stdout, 'utf8')).toBe(`run ${i}\n`);
          expect(readFileSync(record.logs.stderr, 'utf8')).toBe('err\n');
        }
      }
    } finally {
      await client.close();
      srv.kill();
      await srv.exited;
    }
  });

  it("sends the original protocol's process.completed only once the final record and the output logs are on disk (the built server)", async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cc-final-record-'));
    const srv = await spawnServer(['--data-dir', dataDir]);
    const client = await LegacyClient.connect(srv.url);
    // Read in the socket's own message handler, before anything else runs: what the disk holds the moment
    // the event arrives.
    const seen = new Map<string, { state: string; exitCode: number | null; stdout: string | null; stderr: string | null }>();
    client.ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as RpcMessage;
      if (m.method !== 'process.completed') return;
      const id = m.params.id as string;
      const record = JSON.parse(readFileSync(recordFile(dataDir!, id), 'utf8')) as {
        state: string;
        exitCode: number | null;
        logs: { stdout: string; stderr: string };
      };
      const read = (path: string) => {
        try {
          return readFileSync(path, 'utf8');
        } catch {
          return null;
        }
      };
      seen.set(id, { state: record.state, exitCode: record.exitCode, stdout: read(record.logs.stdout), stderr: read(record.logs.stderr) });
    });
    try {
      await client.notification('connected');
      // Silent runs and runs with output, one after another, and a failing one.
      for (let i = 0; i < 20; i++) {
        const command = i === 19 ? 'exit 3' : i % 2 === 0 ? 'true' : `echo run ${i}; echo err >&2`;
        const res = await client.request('execute', { command });
        expect(res.error, JSON.stringify(res.error)).toBeUndefined();
        const id = res.result.id as string;
        const done = await client.notification('process.completed', (p) => p.id === id, 20_000);
        expect(done.params.exit_code).toBe(i === 19 ? 3 : 0);
        const onDisk = seen.get(id);
        expect(onDisk).toMatchObject({ state: 'exited', exitCode: i === 19 ? 3 : 0 });
        if (i % 2 === 1 && i !== 19) expect(onDisk).toMatchObject({ stdout: `run ${i}\n`, stderr: 'err\n' });
      }
    } finally {
      await client.close();
      srv.kill();
      await srv.exited;
    }
  });
});
