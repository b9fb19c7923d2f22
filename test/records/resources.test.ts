// Executions as MCP resources through the SDK client: list, read, and subscription updates.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { callTool, connectWs, GroupTracker, startTestServer, structured, waitFor, type TestServer } from '../helpers/server.js';

function textOf(result: { contents: Array<object> }): string {
  const first = result.contents[0];
  return first && 'text' in first ? String(first.text) : '';
}

let server: TestServer | undefined;
let client: Client | undefined;
const groups = new GroupTracker();
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = undefined;
  server = undefined;
  await groups.expectGroupsGone();
});

describe('execution resources', () => {
  it('lists recent executions and reads a record and its output', async () => {
    server = await startTestServer();
    client = await connectWs(server.url);
    const r = structured(await callTool(client, 'execute', { command: 'echo one; echo two >&2' }));
    await server.engine.records.settled(r.id);
    const list = await client.listResources();
    expect(list.resources.map((x) => x.uri)).toContain(`cc-executor://executions/${r.id}`);
    const templates = await client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      'cc-executor://executions/{id}',
      'cc-executor://executions/{id}/output',
    ]);
    const record = await client.readResource({ uri: `cc-executor://executions/${r.id}` });
    expect(record.contents[0]!.mimeType).toBe('application/json');
    expect(JSON.parse(textOf(record))).toMatchObject({ id: r.id, exitCode: 0, stdout: 'one\n' });
    const output = await client.readResource({ uri: `cc-executor://executions/${r.id}/output` });
    expect(textOf(output)).toBe('one\ntwo\n');
    await expect(client.readResource({ uri: 'cc-executor://executions/00000000-nope' })).rejects.toThrow(/NOT_FOUND/);
  });

  it('tells every session that the resource list changed when an execution starts, as its capability says', async () => {
    server = await startTestServer();
    client = await connectWs(server.url);
    const watcher = await connectWs(server.url);
    try {
      expect(watcher.getServerCapabilities()?.resources?.listChanged).toBe(true);
      let changes = 0;
      watcher.setNotificationHandler(ResourceListChangedNotificationSchema, () => void changes++);
      const r = structured(await callTool(client, 'execute', { command: 'echo listed' }));
      groups.add(r.pgid);
      await waitFor(() => changes > 0, 15_000, 'notifications/resources/list_changed');
      await server.engine.records.settled(r.id);
      expect((await watcher.listResources()).resources.map((x) => x.uri)).toContain(`cc-executor://executions/${r.id}`);
    } finally {
      await watcher.close();
    }
  });

  it('sends resources/updated while a subscribed execution prints and when it ends', async () => {
    server = await startTestServer();
    client = await connectWs(server.url);
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    const r = structured(
      await callTool(client, 'execute', { command: 'for i in 1 2 3 4 5 6; do echo $i; sleep 0.2; done', background: true }),
    );
    groups.add(r.pgid);
    const uri = `cc-executor://executions/${r.id}`;
    await client.subscribeResource({ uri });
    await waitFor(() => updates.length >= 2, 5_000, 'updates during output');
    expect(updates.length).toBeLessThanOrEqual(8); // coalesced: a few per second, not one per line
    await waitFor(async () => JSON.parse(textOf(await client!.readResource({ uri }))).state === 'exited', 5_000, 'end');
    // The last update follows the final record; once it has had time to arrive, nothing else comes.
    await server.engine.records.settled(r.id);
    await new Promise((r) => setTimeout(r, 500));
    const before = updates.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(updates.length).toBe(before);
    expect(new Set(updates)).toEqual(new Set([uri]));
    await expect(client.subscribeResource({ uri: 'cc-executor://elsewhere' })).rejects.toThrow();
  });
});
