// ReadGatherer: a flood of small reads pauses the pipe for a moment so output gathers; output now and then is read as it comes.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ReadGatherer } from '../../src/processes/read-gatherer.js';

describe('ReadGatherer', () => {
  it('pauses a stream that delivers small pieces back to back, and every byte still arrives in order', async () => {
    const stream = new PassThrough();
    const gatherer = new ReadGatherer(stream, () => false);
    const received: Buffer[] = [];
    stream.on('data', (b: Buffer) => {
      received.push(b);
      gatherer.afterRead(b.length);
    });
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const piece = Buffer.from(`piece ${i} `.repeat(50));
      sent.push(piece);
      stream.write(piece);
    }
    stream.end();
    await new Promise((resolve) => stream.once('end', resolve));
    gatherer.stop();
    expect(Buffer.concat(received).equals(Buffer.concat(sent))).toBe(true);
    expect(gatherer.gathered).toBeGreaterThan(0);
  });

  it('never pauses output that comes now and then', async () => {
    const stream = new PassThrough();
    const gatherer = new ReadGatherer(stream, () => false);
    const received: string[] = [];
    stream.on('data', (b: Buffer) => {
      received.push(b.toString());
      gatherer.afterRead(b.length);
    });
    for (let i = 0; i < 3; i++) {
      stream.write(`line ${i}\n`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    gatherer.stop();
    expect(received).toEqual(['line 0\n', 'line 1\n', 'line 2\n']);
    expect(gatherer.gathered).toBe(0);
    expect(stream.isPaused()).toBe(false);
  });

  it('leaves a stream paused by someone else (back-pressure) paused', async () => {
    const stream = new PassThrough();
    let held = false;
    const gatherer = new ReadGatherer(stream, () => held);
    let reads = 0;
    stream.on('data', (b: Buffer) => {
      reads++;
      gatherer.afterRead(b.length);
      if (reads === 2) held = true; // the gather below starts before the hold; its timer must not resume
    });
    stream.write('a');
    stream.write('b');
    expect(gatherer.gathered).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stream.isPaused()).toBe(true);
    gatherer.stop();
  });

  it("reads a real child's flood through its pipe completely, byte for byte", async () => {
    // 8 MiB in 4 KiB writes: the reads come back to back, so the gatherer pauses the pipe between them.
    const child = spawn(
      process.execPath,
      [
        '-e',
        "const b = Buffer.alloc(4096, 'x'); let n = 2048; const w = () => { while (n > 0) { n--; if (!process.stdout.write(b)) return process.stdout.once('drain', w); } }; w();",
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const gatherer = new ReadGatherer(child.stdout, () => false);
      const hash = createHash('sha256');
      let bytes = 0;
      child.stdout.on('data', (b: Buffer) => {
        hash.update(b);
        bytes += b.length;
        gatherer.afterRead(b.length);
      });
      await new Promise((resolve) => child.stdout.once('close', resolve));
      gatherer.stop();
      expect(bytes).toBe(8 * 1024 * 1024);
      expect(hash.digest('hex')).toBe(
        createHash('sha256')
          .update(Buffer.alloc(8 * 1024 * 1024, 'x'))
          .digest('hex'),
      );
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
