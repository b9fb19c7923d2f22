// ReadGather: when the event loop sleeps after a read of a command's output, and that it never sleeps otherwise.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ReadGather } from '../../src/processes/read-gather.js';
import { callWithProgress, structured } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

describe('ReadGather', () => {
  it("never sleeps for a pipe's first read, a large read, or when off", () => {
    const gather = new ReadGather(150);
    const read = gather.reader()!;
    read(100); // first read: a lone line goes out at once
    read(64 * 1024); // in a flood, but large
    expect(gather.sleeps).toBe(0);
    expect(new ReadGather(0).reader()).toBeUndefined(); // off: no hook, nothing to call per read
  });

  it('sleeps after a small read in a flood, at most once per turn of the event loop', async () => {
    const gather = new ReadGather(1000, 10_000); // a loaded machine may stall the test between two reads
    const a = gather.reader()!;
    a(8160);
    const t0 = performance.now();
    a(8160); // soon after a's last read: a flood
    expect(performance.now() - t0).toBeGreaterThanOrEqual(0.9); // Atomics.wait waits at least its timeout
    expect(gather.sleeps).toBe(1);
    a(8160);
    expect(gather.sleeps).toBe(1); // same turn: no second sleep
    await nextTurn();
    a(8160);
    expect(gather.sleeps).toBe(2);
  });

  it('does not sleep while several pipes flood at once, and sleeps again once only one does', async () => {
    const gather = new ReadGather(150, 50); // wide: a loaded machine may stall the test between two reads
    const a = gather.reader()!;
    const b = gather.reader()!;
    for (let i = 0; i < 20; i++) {
      a(8160);
      b(8160);
      await nextTurn();
    }
    expect(gather.sleeps).toBe(0);
    await new Promise((r) => setTimeout(r, 200)); // b stops; a's flood goes on alone
    a(8160);
    a(8160);
    expect(gather.sleeps).toBe(1);
  });

  it('takes a read after a quiet spell for the start of a new flood, not a part of the old one', async () => {
    const gather = new ReadGather(150, 2);
    const read = gather.reader()!;
    read(10);
    await new Promise((r) => setTimeout(r, 20));
    read(10);
    expect(gather.sleeps).toBe(0);
  });
});

describe('ReadGather in the server (a real flood through a real pipe)', () => {
  const fixture = useTestServer();

  it('sleeps during a flood and loses nothing; with readGatherUs 0 it never sleeps', async () => {
    // Thousands of tiny writes (one per echo), far apart enough for the server to read each alone, close enough to
    // be a flood: small reads the server is not held back from by the client (a big flood to the SDK client in this
    // process is: flow control pauses the pipe, and reads after a pause are full ones).
    const lines = 20_000;
    const command = `i=0; while [ $i -lt ${lines} ]; do echo "line $i"; i=$((i+1)); done`;
    for (const readGatherUs of [80, 0]) {
      const client = await fixture.serve({ readGatherUs });
      const { result, streamed } = await callWithProgress(client, 'execute', { command, timeoutMs: 120_000 });
      expect(structured(result)).toMatchObject({ exitCode: 0 });
      const got = streamed.stdout.split('\n');
      expect(got.length).toBe(lines + 1);
      expect(got[lines - 1]).toBe(`line ${lines - 1}`);
      const sleeps = fixture.server.engine.executions.readGather.sleeps;
      if (readGatherUs === 0) expect(sleeps).toBe(0);
      else expect(sleeps).toBeGreaterThan(0);
    }
  });
});
