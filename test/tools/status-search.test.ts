// Long output through the real server: inline head/tail cut at lines, status lines ranges and grep over the log on disk.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { callTool, structured, waitFor } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

// A full GC on demand, to measure live memory rather than garbage not yet collected.
setFlagsFromString('--expose-gc');

const fx = useTestServer();
const groups = fx.groups;

async function connect(): Promise<Client> {
  await fx.serve();
  await fx.client.listTools(); // results are then checked against the outputSchema
  return fx.client;
}

/** Run a command to its end (background + status polling: no call waits on a big output). */
async function runToEnd(c: Client, command: string): Promise<any> {
  const started = structured(await callTool(c, 'execute', { command, background: true }));
  groups.add(started.pgid);
  let last: any;
  await waitFor(
    async () => {
      last = structured(await callTool(c, 'status', { id: started.id, maxBytes: 1 }));
      return last.state === 'exited';
    },
    120_000,
    `${command} to finish`,
  );
  return last;
}

const text = (r: Awaited<ReturnType<typeof callTool>>) => (r.content as Array<{ text: string }>)[0]!.text;
/** Bytes of `seq` output for lines a..b (each number and its newline). */
const seqBytes = (a: number, b: number) => {
  let n = 0;
  for (let i = a; i <= b; i++) n += String(i).length + 1;
  return n;
};

describe('long output', () => {
  it('cuts the inline head and tail at line boundaries, and the marker names the lines, bytes and the status call that reads them', async () => {
    const c = await connect();
    const done = await runToEnd(c, 'seq 1 2000000');
    const s = done;
    expect(s.exitCode).toBe(0);
    const marker =
      /\.\.\. \[stdout lines (\d+)-(\d+) left out \((\d+) lines, (\d+) bytes\); read them with status (\{.*\})\] \.\.\.\n/.exec(s.stdout);
    expect(marker, s.stdout.slice(14_000, 16_000)).not.toBeNull();
    const [from, to, lines, bytes] = marker!.slice(1, 5).map(Number) as [number, number, number, number];
    const head = s.stdout.slice(0, marker!.index);
    const tail = s.stdout.slice(marker!.index + marker![0].length);
    // Whole lines only: the head is 1..from-1, the tail to+1..2000000.
    expect(head.endsWith('\n')).toBe(true);
    expect(head.split('\n').slice(0, -1)).toEqual(Array.from({ length: from - 1 }, (_, i) => String(i + 1)));
    expect(tail.split('\n').slice(0, -1)).toEqual(Array.from({ length: 2_000_000 - to }, (_, i) => String(to + 1 + i)));
    expect(lines).toBe(to - from + 1);
    expect(bytes).toBe(seqBytes(from, to));
    // The call the marker names reads exactly the left-out lines (the first ones, within maxBytes).
    const call = JSON.parse(marker![5]!) as Record<string, unknown>;
    expect(call).toMatchObject({ id: s.id, stream: 'stdout', lines: { from, to } });
    const read = structured(await callTool(c, 'status', { ...call, maxBytes: 1_000 }));
    expect(read.lines.text.split('\n')[0]).toBe(String(from));
    expect(read.lines.more).toBe(true);
    const next = read.lines.to + 1;
    const rest = structured(await callTool(c, 'status', { id: s.id, stream: 'stdout', lines: { from: next, to: next + 2 } }));
    expect(rest.lines).toMatchObject({ from: next, to: next + 2, count: 3, text: `${next}\n${next + 1}\n${next + 2}`, eof: false });
    const end = structured(await callTool(c, 'status', { id: s.id, lines: { from: 1_999_999, to: 3_000_000 } }));
    expect(end.lines).toMatchObject({ to: 2_000_000, count: 2, eof: true, more: false });
  });

  it('grep finds a line in a 100 MB log with its number and context, streaming the log, not loading it', async () => {
    // The whole log must be read: a time budget far beyond what a loaded machine needs (its own test is in
    // test/records/log-lines.test.ts).
    await fx.serve({ grepBudgetMs: 600_000 });
    const c = fx.client;
    await c.listTools();
    // 13 million lines, about 105 MB.
    const done = await runToEnd(c, 'seq 1 13000000');
    expect(done.stdoutBytes).toBeGreaterThan(100_000_000);
    // Live memory (after a full GC) sampled while the search runs: a log read whole would add over 100 MB.
    const gc = runInNewContext('gc') as () => void;
    const live = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = live();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, live())), 100);
    const started = Date.now();
    const r = await callTool(c, 'status', { id: done.id, grep: '^1234567[89]$', context: 1 }).finally(() => clearInterval(sampler));
    const tookMs = Date.now() - started;
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    const g = structured(r).grep;
    expect(g.complete).toBe(true);
    expect(g.limitReached).toBe(false);
    expect(g.linesScanned.stdout).toBe(13_000_000);
    expect(g.matches).toEqual([
      {
        stream: 'stdout',
        line: 12_345_678,
        text: '12345678',
        before: [{ line: 12_345_677, text: '12345677' }],
        after: [{ line: 12_345_679, text: '12345679' }],
      },
      {
        stream: 'stdout',
        line: 12_345_679,
        text: '12345679',
        before: [{ line: 12_345_678, text: '12345678' }],
        after: [{ line: 12_345_680, text: '12345680' }],
      },
    ]);
    expect(text(r)).toContain('stdout:12345678:12345678');
    expect(tookMs).toBeLessThan(120_000);
    // Read in 1 MiB pieces: live memory does not grow by anything like the log's 105 MB.
    expect(peak - baseline).toBeLessThan(40_000_000);
  }, 240_000);

  it('lines and grep right after a run answers see its last lines: they wait for the logs to reach the disk', async () => {
    const c = await connect();
    for (let i = 0; i < 5; i++) {
      const r = structured(await callTool(c, 'execute', { command: `seq 1 200000; echo last-${i}` }));
      groups.add(r.pgid);
      const lines = structured(await callTool(c, 'status', { id: r.id, lines: { from: 200_001, to: 200_001 } })).lines;
      expect(lines).toMatchObject({ count: 1, text: `last-${i}` });
      const g = structured(await callTool(c, 'status', { id: r.id, grep: `^last-${i}$` })).grep;
      expect(g.matches.map((m: { line: number }) => m.line)).toEqual([200_001]);
    }
  });

  it('grep searches both streams, honours ignoreCase and maxMatches, and refuses a bad pattern with INVALID_INPUT', async () => {
    const c = await connect();
    const done = await runToEnd(c, 'for i in 1 2 3 4 5; do echo "ok $i"; echo "Error $i" >&2; done');
    const all = structured(await callTool(c, 'status', { id: done.id, grep: 'error', ignoreCase: true }));
    expect(all.grep.matches.map((m: any) => `${m.stream}:${m.line}:${m.text}`)).toEqual(
      [1, 2, 3, 4, 5].map((i) => `stderr:${i}:Error ${i}`),
    );
    const two = structured(await callTool(c, 'status', { id: done.id, grep: '\\d', maxMatches: 2 }));
    expect(two.grep.matches.map((m: any) => [m.stream, m.line])).toEqual([
      ['stdout', 1],
      ['stdout', 2],
    ]);
    expect(two.grep.limitReached).toBe(true);
    const none = structured(await callTool(c, 'status', { id: done.id, grep: 'nothing like this', stream: 'stdout' }));
    expect(none.grep).toMatchObject({ matches: [], limitReached: false, complete: true, linesScanned: { stdout: 5 } });

    const bad = await callTool(c, 'status', { id: done.id, grep: '(unclosed' });
    expect(bad.isError).toBe(true);
    expect(structured(bad).error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'grep' } });
    expect(text(bad)).toContain('not a valid regular expression');
    const slow = await callTool(c, 'status', { id: done.id, grep: '(a|a)*$', context: 0 });
    expect(slow.isError).toBeFalsy(); // short lines: even a backtracking pattern is quick
    const mixed = await callTool(c, 'status', { id: done.id, grep: 'x', lines: { from: 1, to: 2 } });
    expect(structured(mixed).error.code).toBe('INVALID_INPUT');
    const stray = await callTool(c, 'status', { id: done.id, context: 2 });
    expect(structured(stray).error.code).toBe('INVALID_INPUT');
    const backwards = await callTool(c, 'status', { id: done.id, lines: { from: 5, to: 2 } });
    expect(structured(backwards).error.code).toBe('INVALID_INPUT');
  });

  it('says a grep stopped at maxBytes, not at maxMatches, when the reply filled up first', async () => {
    const c = await connect();
    const done = await runToEnd(c, `awk 'BEGIN { for (i = 1; i <= 400; i++) { s = i; while (length(s) < 3000) s = s "x"; print s } }'`);
    const r = await callTool(c, 'status', { id: done.id, grep: '^', context: 5, maxMatches: 1000, maxBytes: 100_000 });
    const found = structured(r).grep;
    expect(found.limitReached).toBe(true);
    expect(found.matches.length).toBeLessThan(1000);
    expect(text(r)).not.toMatch(/limit 1000 reached/);
    expect(text(r)).toMatch(/maxBytes \(100000\) reached/);
  });

  it('refuses a catastrophically backtracking pattern with INVALID_INPUT instead of hanging the server', async () => {
    const c = await connect();
    const done = await runToEnd(c, "printf 'a%.0s' $(seq 1 40); echo b");
    const started = Date.now();
    const r = await callTool(c, 'status', { id: done.id, grep: '^(a+)+$' });
    expect(structured(r).error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'grep' } });
    expect(Date.now() - started).toBeLessThan(30_000);
    // The server still answers.
    expect(structured(await callTool(c, 'status', {})).server.version).toBeTruthy();
  });
});
