// Executions as MCP resources through the SDK client: list, read, and subscription updates.
import { ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

function textOf(result: { contents: Array<object> }): string {
  const first = result.contents[0];
  return first && 'text' in first ? String(first.text) : '';
}

const fx = useTestServer();
const groups = fx.groups;

describe('execution resources', () => {
  it('lists recent executions and reads a record and its output', async () => {
    await fx.serve();
    const r = structured(await callTool(fx.client, 'execute', { command: 'echo one; echo two >&2' }));
    await fx.server.engine.records.settled(r.id);
    const list = await fx.client.listResources();
    expect(list.resources.map((x) => x.uri)).toContain(`cc-executor://executions/${r.id}`);
    const templates = await fx.client.listResourceTemplates();
    expect(templates.resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual([
      'cc-executor://executions/{id}',
      'cc-executor://executions/{id}/output',
    ]);
    const record = await fx.client.readResource({ uri: `cc-executor://executions/${r.id}` });
    expect(record.contents[0]!.mimeType).toBe('application/json');
    expect(JSON.parse(textOf(record))).toMatchObject({ id: r.id, exitCode: 0, stdout: 'one\n' });
    const output = await fx.client.readResource({ uri: `cc-executor://executions/${r.id}/output` });
    expect(textOf(output)).toBe('one\ntwo\n');
    await expect(fx.client.readResource({ uri: 'cc-executor://executions/00000000-nope' })).rejects.toThrow(/NOT_FOUND/);
  });

  it('tells every session that the resource list changed when an execution starts, as its capability says', async () => {
    await fx.serve();
    const watcher = await fx.connect();
    expect(watcher.getServerCapabilities()?.resources?.listChanged).toBe(true);
    let changes = 0;
    watcher.setNotificationHandler(ResourceListChangedNotificationSchema, () => void changes++);
    const r = structured(await callTool(fx.client, 'execute', { command: 'echo listed' }));
    groups.add(r.pgid);
    await waitFor(() => changes > 0, 15_000, 'notifications/resources/list_changed');
    await fx.server.engine.records.settled(r.id);
    expect((await watcher.listResources()).resources.map((x) => x.uri)).toContain(`cc-executor://executions/${r.id}`);
  });

  it('sends resources/updated while a subscribed execution prints and when it ends', async () => {
    await fx.serve();
    const updates: string[] = [];
    fx.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    const r = structured(
      await callTool(fx.client, 'execute', { command: 'for i in 1 2 3 4 5 6; do echo $i; sleep 0.2; done', background: true }),
    );
    groups.add(r.pgid);
    const uri = `cc-executor://executions/${r.id}`;
    await fx.client.subscribeResource({ uri });
    await waitFor(() => updates.length >= 2, 5_000, 'updates during output');
    expect(updates.length).toBeLessThanOrEqual(8); // coalesced: a few per second, not one per line
    await waitFor(async () => JSON.parse(textOf(await fx.client.readResource({ uri }))).state === 'exited', 5_000, 'end');
    // The last update follows the final record; once it has had time to arrive, nothing else comes.
    await fx.server.engine.records.settled(r.id);
    await new Promise((r) => setTimeout(r, 500));
    const before = updates.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(updates.length).toBe(before);
    expect(new Set(updates)).toEqual(new Set([uri]));
    await expect(fx.client.subscribeResource({ uri: 'cc-executor://elsewhere' })).rejects.toThrow();
  });
});
