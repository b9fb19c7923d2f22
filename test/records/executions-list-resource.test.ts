// The live-executions resource: readable, and a subscriber hears when an execution of any session starts or ends.
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

describe('cc-executor://executions', () => {
  it('notifies a subscriber when another session starts an execution and when it ends, and lists it meanwhile', async () => {
    await fx.start();
    const watcher = await fx.connect();
    const runner = await fx.connect();
    const updates: number[] = [];
    watcher.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      if (n.params.uri === 'cc-executor://executions') updates.push(Date.now());
    });
    await watcher.subscribeResource({ uri: 'cc-executor://executions' });

    const r = await callTool(runner, 'execute', { command: 'sleep 30', background: true });
    groups.addResult(r);
    const id = structured(r).id;
    await waitFor(() => updates.length >= 1, 10_000, 'an update for the start');
    const read = await watcher.readResource({ uri: 'cc-executor://executions' });
    const listed = JSON.parse(String((read.contents[0] as { text: string }).text));
    expect(listed).toEqual([expect.objectContaining({ id, command: 'sleep 30', state: 'running', sessionId: expect.any(String) })]);

    const before = updates.length;
    await callTool(runner, 'control', { id, action: 'kill' });
    await waitFor(() => updates.length > before, 10_000, 'an update for the end');

    await watcher.unsubscribeResource({ uri: 'cc-executor://executions' });
    await watcher.close();
    await runner.close();
  });

  it('lists every open session and, per live execution, its session, transport and directory in status', async () => {
    await fx.start();
    const a = await fx.connect();
    const b = await fx.connect();
    const r = await callTool(b, 'execute', { command: 'sleep 30', background: true, cwd: '/tmp' });
    groups.addResult(r);
    const listing = structured(await callTool(a, 'status', { scope: 'all' }));
    expect(listing.server.sessionList).toHaveLength(2);
    expect(listing.server.sessionList).toContainEqual(expect.objectContaining({ transport: 'websocket', running: 1 }));
    expect(listing.executions).toEqual([
      expect.objectContaining({ id: structured(r).id, sessionId: structured(r).sessionId, transport: 'websocket', cwd: '/tmp' }),
    ]);
    await callTool(b, 'control', { id: structured(r).id, action: 'kill' });
    await a.close();
    await b.close();
  });
});
