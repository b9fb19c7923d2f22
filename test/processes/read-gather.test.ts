// ReadGather: when the event loop sleeps after a read of a command's output, and that it never sleeps otherwise.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ReadGather } from '../../src/processes/read-gather.js';
import { callWithProgress, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

describe('ReadGather', () => {
  it("never sleeps for a pipe's first read, a large read, or when off", () => {
    const gather = new ReadGather(150);
    const read = gather.reader();
    read(100); // first read: a lone line goes out at once
    read(64 * 1024); // in a flood, but large
    expect(gather.sleeps).toBe(0);
    const off = new ReadGather(0);
    const r = off.reader();
    for (let i = 0; i < 10; i++) r(10);
    expect(off.sleeps).toBe(0);
  });

  it('sleeps after a small read in a flood, at most once per turn of the event loop for every pipe together', async () => {
    const gather = new ReadGather(1000, 10_000); // a loaded machine may stall the test between two reads
    const a = gather.reader();
    const b = gather.reader();
    a(8160);
    b(8160);
    const t0 = performance.now();
    a(8160); // soon after a's last read: a flood
    expect(performance.now() - t0).toBeGreaterThanOrEqual(0.9); // Atomics.wait waits at least its timeout
    expect(gather.sleeps).toBe(1);
    a(8160);
    b(8160);
    expect(gather.sleeps).toBe(1); // same turn: no second sleep, whichever pipe
    await nextTurn();
    b(8160);
    expect(gather.sleeps).toBe(2);
  });

  it('takes a read after a quiet spell for the start of a new flood, not a part of the old one', async () => {
    const gather = new ReadGather(150, 2);
    const read = gather.reader();
    read(10);
    await new Promise((r) => setTimeout(r, 20));
    read(10);
    expect(gather.sleeps).toBe(0);
  });
});

describe('ReadGather in the server (a real flood through a real pipe)', () => {
  const fixture = useTestServer();

  it('sleeps during a flood and loses nothing; with readGatherUs 0 it never sleeps', async () => {
    const bytes = 16 * 1024 * 1024;
    // `head` writes 8 KiB at a time: a reader back in epoll_wait at once is woken for each write.
    const command = `yes 'a line of the flood, 40 bytes long ..' | head -c ${bytes}`;
    for (const readGatherUs of [80, 0]) {
      const client = await fixture.serve({ readGatherUs });
      const { result, streamed } = await callWithProgress(client, 'execute', { command, timeoutMs: 120_000 });
      expect(structured(result)).toMatchObject({ exitCode: 0, stdoutBytes: bytes });
      expect(streamed.stdout.length).toBe(bytes);
      const sleeps = fixture.server.engine.executions.readGather.sleeps;
      if (readGatherUs === 0) expect(sleeps).toBe(0);
      else expect(sleeps).toBeGreaterThan(0);
    }
  });
});
