// Id prefixes from the command line: a unique prefix resolves, an ambiguous one fails clearly and lists the candidates.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GroupTracker, callTool, connectWs, startTestServer, structured, type TestServer } from '../helpers/server.js';
import { killClients, runCli } from './bin.js';

// Random UUIDs share a 4-character prefix too rarely to test with: while `forced.prefix` is set,
// the (in-process) server's new ids start with it. Everything else about ids and lookup is real.
const forced = vi.hoisted(() => ({ prefix: undefined as string | undefined }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    randomUUID: () => {
      const id = actual.randomUUID();
      return forced.prefix === undefined ? id : `${forced.prefix}${id.slice(forced.prefix.length)}`;
    },
  };
});

let server: TestServer;
let client: Client;
const groups = new GroupTracker();
const ids: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  client = await connectWs(server.url);
  forced.prefix = 'abcd1234';
  try {
    for (const command of ['echo first', 'echo second']) {
      const s = structured(await callTool(client, 'execute', { command }));
      groups.add(s.pgid);
      ids.push(s.id);
    }
  } finally {
    forced.prefix = undefined;
  }
});
afterAll(async () => {
  killClients();
  await client.close();
  await server.close();
  await groups.expectGroupsGone();
});

describe('id prefixes', () => {
  it('the two test executions really share their first 8 characters', () => {
    expect(ids).toHaveLength(2);
    expect(ids[0]!.slice(0, 8)).toBe('abcd1234');
    expect(ids[1]!.slice(0, 8)).toBe('abcd1234');
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('an ambiguous prefix exits 125 with AMBIGUOUS_ID and lists every candidate', async () => {
    const r = await runCli(['status', 'abcd'], { url: server.url });
    expect(r.code).toBe(125);
    const err = r.stderr.toString();
    expect(err).toContain('AMBIGUOUS_ID: id prefix abcd matches 2 executions; give more characters');
    for (const id of ids) expect(err).toContain(`    ${id}`);
    expect(r.stdout.length).toBe(0);

    const control = await runCli(['control', 'abcd1234', 'kill'], { url: server.url });
    expect(control.code).toBe(125);
    expect(control.stderr.toString()).toContain('AMBIGUOUS_ID');

    const json = await runCli(['status', '--json', 'abcd1234-'], { url: server.url });
    expect(json.code).toBe(125);
    const parsed = JSON.parse(json.stdout.toString());
    expect(parsed).toMatchObject({ type: 'error', error: { code: 'AMBIGUOUS_ID', exitCode: 125 } });
    expect([...parsed.error.details.matches].sort()).toEqual([...ids].sort());
  });

  it('a prefix long enough to be unique resolves', async () => {
    // The shortest prefix of ids[0] that ids[1] does not share.
    let n = 9;
    while (ids[1]!.startsWith(ids[0]!.slice(0, n))) n++;
    const r = await runCli(['status', ids[0]!.slice(0, n)], { url: server.url });
    expect(r.code, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toBe('first\n');
    const full = await runCli(['status', ids[1]!], { url: server.url });
    expect(full.stdout.toString()).toBe('second\n');
  });
});
