// Tool definitions as a client sees them (tools/list) and results checked against them by the SDK's own Client.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[] };

/** Keys of `value` the schema does not declare (loose objects accept them, so this is what keeps the schema complete). */
function undeclared(schema: JsonSchema | undefined, value: unknown, path = '$'): string[] {
  if (!schema || value === null || typeof value !== 'object') return [];
  const options = schema.anyOf?.filter((s) => s.properties || s.items) ?? [];
  if (options.length > 0 && !schema.properties && !schema.items) {
    // A union (e.g. "object or null"): the option that declares most of the keys.
    const found = options.map((o) => undeclared(o, value, path));
    return found.reduce((a, b) => (b.length < a.length ? b : a));
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => undeclared(schema.items, v, `${path}[${i}]`));
  if (!schema.properties) return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k in schema.properties! ? undeclared(schema.properties![k], v, `${path}.${k}`) : [`${path}.${k}`],
  );
}

async function start(): Promise<Map<string, Tool>> {
  await fx.serve({ defaultTimeoutMs: 5_000, maxTimeoutMs: 60_000, graceMs: 1_234, writeStdinWaitMs: 777 });
  // listTools makes the SDK Client validate every later callTool's structuredContent against outputSchema.
  const { tools } = await fx.client.listTools();
  return new Map(tools.map((t) => [t.name, t]));
}

describe('tool definitions', () => {
  it('every tool has an outputSchema, truthful annotations and a closed world', async () => {
    const tools = await start();
    expect([...tools.keys()].sort()).toEqual(['control', 'execute', 'status', 'write_stdin']);
    for (const tool of tools.values()) {
      expect(tool.outputSchema?.type, tool.name).toBe('object');
      expect(tool.annotations?.openWorldHint, tool.name).toBe(false);
      expect(tool.annotations?.readOnlyHint, tool.name).toBe(tool.name === 'status');
      if (tool.name !== 'status') expect(tool.annotations?.destructiveHint, tool.name).toBe(true);
    }
  });

  it('descriptions state the configured defaults and caps, not the built-in ones', async () => {
    const tools = await start();
    const execute = tools.get('execute')!;
    const props = execute.inputSchema.properties as Record<string, { description?: string; enum?: string[] }>;
    expect(execute.description).toContain('5000 ms');
    expect(execute.description).toContain('60000 ms');
    expect(execute.description).toMatch(/background/);
    expect(execute.description).toMatch(/waitMs/);
    expect(props.timeoutMs!.description).toContain('default 5000');
    expect(props.timeoutMs!.description).toContain('at most 60000');
    expect(JSON.stringify(tools)).not.toContain('600000');
    expect(props.detach).toBeUndefined();
    const control = tools.get('control')!.inputSchema.properties as Record<string, { description?: string; enum?: string[] }>;
    expect(control.graceMs!.description).toContain('default 1234');
    expect(control.action!.enum).toEqual(['pause', 'resume', 'cancel', 'kill', 'signal', 'resize']);
    const write = tools.get('write_stdin')!.inputSchema.properties as Record<string, { description?: string }>;
    expect(write.waitMs!.description).toContain('default 777');
    const status = tools.get('status')!.inputSchema.properties as Record<string, { enum?: string[] }>;
    expect(status.state!.enum).toEqual(['running', 'paused', 'exited', 'lost']);
    expect(status.scope!.enum).toEqual(['session', 'all', 'history']);
  });

  it('every result path matches its outputSchema, errors included, and declares every key it returns', async () => {
    const tools = await start();
    const c = fx.client;
    const checked: string[] = [];
    // The SDK Client throws on a result that does not match; undeclared() catches keys the schema leaves out.
    const call = async (name: string, args: Record<string, unknown>, isError = false): Promise<any> => {
      const result = await callTool(c, name, args);
      expect(result.isError === true, `${name} ${JSON.stringify(args)}: ${JSON.stringify(result.content)}`).toBe(isError);
      expect(undeclared(tools.get(name)!.outputSchema as JsonSchema, result.structuredContent), name).toEqual([]);
      groups.addResult(result);
      checked.push(name);
      return structured(result);
    };

    const done = await call('execute', { command: 'echo out; echo err >&2; exit 3' });
    expect(done).toMatchObject({ state: 'exited', exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    await call('execute', { argv: ['true'], timeoutMs: 120_000 }); // clamped to maxTimeoutMs
    await call('execute', { command: 'true', cwd: '/no/such/dir' }, true);
    await call('execute', {}, true);
    const running = await call('execute', { command: 'sleep 30', waitMs: 50 });
    expect(running.state).toBe('running');
    await call('status', {});
    await call('status', { scope: 'all' });
    await call('status', { scope: 'history', state: 'exited' });
    await call('status', { id: done.id, sinceSeq: 0 });
    await call('status', { id: done.id, beforeSeq: done.lastSeq + 1 });
    await call('status', { id: done.id, stream: 'stdout', byteOffset: 0 });
    await call('status', { id: 'no-such-execution' }, true);
    await call('control', { id: running.id, action: 'pause' });
    await call('control', { id: running.id, action: 'resume' });
    await call('control', { id: running.id, action: 'signal' }, true);
    const cancelled = await call('control', { id: running.id, action: 'cancel' });
    expect(cancelled.terminationReason).toBe('cancel');
    await call('control', { id: running.id, action: 'kill' }, true);

    const asking = await call('execute', { command: 'read -p "name? " n; echo "hi $n"', interactive: true, waitMs: 20_000 });
    expect(asking.waitingForInput).toBe(true);
    const answered = await call('write_stdin', { id: asking.id, data: 'bob\n', waitMs: 10_000 });
    await waitFor(async () => (await call('status', { id: asking.id })).state === 'exited', 20_000, 'the interactive command to exit');
    expect(answered.output.stdout + (await call('status', { id: asking.id })).stdout).toContain('hi bob');
    await call('write_stdin', { id: asking.id, data: 'late\n' }, true);
    await call('write_stdin', { id: asking.id }, true);
    expect(new Set(checked)).toEqual(new Set(['execute', 'status', 'control', 'write_stdin']));
  });

  it('a still-running result names the next call, and the retired detach flag still backgrounds', async () => {
    await start();
    const result = await callTool(fx.client, 'execute', { command: 'sleep 30', detach: true });
    groups.addResult(result);
    const s = structured(result);
    expect(s).toMatchObject({ state: 'running', background: true });
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain(`status {"id": "${s.id}", "sinceSeq": ${s.lastSeq}}`);
    expect(text).toContain(`control {"id": "${s.id}", "action": "cancel"}`);
    await callTool(fx.client, 'control', { id: s.id, action: 'kill' });
  });
});
