// Resource caps: output per execution (output_limit), command size, executions per session per minute.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describe, expect, it } from 'vitest';
import { createConfig } from '../../src/config.js';
import { CommandPolicy } from '../../src/policy/command-policy.js';
import { callTool, callWithProgress, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const fx = useTestServer();
const groups = fx.groups;

async function run(client: Client, args: Record<string, unknown>): Promise<any> {
  const result = await callTool(client, 'execute', args);
  groups.addResult(result);
  return { ...structured(result), isError: result.isError === true };
}

describe('maxOutputBytes', () => {
  it('terminates a flooding group with output_limit and keeps exactly the output up to the limit', async () => {
    await fx.start({ maxOutputBytes: 100_000 });
    const client = await fx.connect();
    // `yes` never stops; its child keeps the group alive after the leader too
    const { result, streamed } = await callWithProgress(client, 'execute', { command: 'yes & yes' }, { timeout: 20_000 });
    groups.addResult(result);
    const r = structured(result);
    expect(r).toMatchObject({ state: 'exited', terminationReason: 'output_limit' });
    expect(r.stdoutBytes + r.stderrBytes).toBe(100_000);
    expect(r.stdout.startsWith('y\ny\n')).toBe(true);
    expect(streamed.stdout.length).toBeLessThanOrEqual(100_000);
    expect(streamed.stdout.length).toBeGreaterThan(0);
    const status = structured(await callTool(client, 'status', { id: r.id, sinceSeq: 0, maxBytes: 1_000_000 }));
    const kept = (status.output.chunks as Array<{ data: string }>).map((c) => c.data).join('');
    expect(kept.length).toBe(100_000);
  });

  it('counts both streams, and lets a command that prints exactly the limit finish on its own', async () => {
    await fx.start({ maxOutputBytes: 4_000 });
    const client = await fx.connect();
    const exact = await run(client, { command: 'head -c 2000 /dev/zero; head -c 2000 /dev/zero >&2' });
    expect(exact).toMatchObject({ exitCode: 0, terminationReason: null, stdoutBytes: 2_000, stderrBytes: 2_000 });
    const over = await run(client, { command: 'head -c 2000 /dev/zero; head -c 2001 /dev/zero >&2; sleep 30' });
    expect(over.terminationReason).toBe('output_limit');
    expect(over.stdoutBytes + over.stderrBytes).toBe(4_000);
  });
});

describe('maxCommandBytes', () => {
  it('refuses a longer command string or argv with INVALID_INPUT naming the limit', async () => {
    await fx.start({ maxCommandBytes: 1_000 });
    const client = await fx.connect();
    const long = await run(client, { command: `echo ${'a'.repeat(1_000)}` });
    expect(long.error).toMatchObject({
      code: 'INVALID_INPUT',
      details: { limit: 'maxCommandBytes', bytes: 1_005, maxCommandBytes: 1_000 },
    });
    // multi-byte characters count as bytes
    const wide = await run(client, { argv: ['echo', 'é'.repeat(500)] });
    expect(wide.error).toMatchObject({ code: 'INVALID_INPUT', details: { limit: 'maxCommandBytes' } });
    expect((await run(client, { argv: ['echo', 'a'.repeat(900)] })).stdout).toBe(`${'a'.repeat(900)}\n`);
  });

  it('by default refuses a command over 128 KiB before the OS would (E2BIG)', async () => {
    await fx.start();
    const client = await fx.connect();
    const r = await run(client, { command: `echo ${'a'.repeat(200 * 1024)}` });
    expect(r.error).toMatchObject({ code: 'INVALID_INPUT', details: { limit: 'maxCommandBytes' } });
  });
});

describe('maxExecutionsPerMinute', () => {
  it('refuses the session its next execution with LIMIT_REACHED naming the limit; other sessions are unaffected', async () => {
    await fx.start({ maxExecutionsPerMinute: 3 });
    const a = await fx.connect();
    const b = await fx.connect();
    for (let i = 0; i < 3; i++) expect((await run(a, { argv: ['echo', String(i)] })).stdout).toBe(`${i}\n`);
    const refused = await run(a, { argv: ['echo', 'fourth'] });
    expect(refused.isError).toBe(true);
    expect(refused.error).toMatchObject({ code: 'LIMIT_REACHED', details: { limit: 'maxExecutionsPerMinute' } });
    expect(refused.error.details.retryAfterMs).toBeGreaterThan(0);
    expect(refused.error.details.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(refused.error.message).toContain('maxExecutionsPerMinute');
    expect((await run(b, { argv: ['echo', 'other session'] })).stdout).toBe('other session\n');
  });

  it('counts a sliding minute: a slot frees 60 s after the start it replaces, and refused requests do not count', () => {
    let now = 1_000_000;
    const policy = new CommandPolicy(createConfig({ maxExecutionsPerMinute: 2, deniedCommands: ['rm'] }), process.env.PATH, () => now);
    const ok = { sessionId: 's', argv: ['echo'] };
    policy.check(ok, '/');
    expect(() => policy.check({ sessionId: 's', argv: ['rm'] }, '/')).toThrow(/deniedCommands/);
    now += 30_000;
    policy.check(ok, '/'); // the second slot: the refused rm took none
    expect(() => policy.check(ok, '/')).toThrow(/maxExecutionsPerMinute/);
    now += 29_999;
    expect(() => policy.check(ok, '/')).toThrow(/maxExecutionsPerMinute/);
    now += 1;
    policy.check(ok, '/');
    expect(() => policy.check(ok, '/')).toThrow(/maxExecutionsPerMinute/);
    policy.check({ sessionId: 'other', argv: ['echo'] }, '/');
  });
});
