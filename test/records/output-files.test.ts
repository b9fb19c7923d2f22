// OutputFiles: a run's log files are written as chunks come and are never reopened (so never truncated) once closed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputChunk } from '../../src/processes/output-log.js';
import { OutputFiles, outputPaths, readOutputFiles } from '../../src/records/output-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const chunk = (seq: number, text: string) => new OutputChunk(seq, 'stdout', Buffer.from(text), Buffer.byteLength(text));

describe('OutputFiles', () => {
  it('keeps what it wrote when output arrives after close, and reports that output as a save error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-output-files-'));
    dirs.push(dir);
    const errors: string[] = [];
    const base = join(dir, 'run');
    const files = new OutputFiles(base, (m) => errors.push(m));
    files.write(chunk(1, 'first\n'));
    await files.close();
    files.write(chunk(2, 'late\n'));
    await files.close();
    expect(readFileSync(outputPaths(base).stdout, 'utf8')).toBe('first\n');
    expect(files.failed).toMatch(/after the logs were closed \(seq 2\)/);
    expect(errors).toHaveLength(1);
  });

  it('has every chunk on disk, in order and in its stream, once written() resolves: small chunks gathered, large ones alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-output-files-'));
    dirs.push(dir);
    const base = join(dir, 'run');
    const files = new OutputFiles(base, (m) => expect.fail(m));
    // Sizes around the batch (256 KiB): many small ones, a 64 KiB flood, one over a whole batch; both streams.
    const sizes = [1, 80, 4096, 65_536, 65_536, 65_536, 65_535, 300_000, 7, 65_536, 200_000, 100_000, 3];
    const sent: Array<{ stream: 'stdout' | 'stderr'; text: string }> = [];
    let seq = 0;
    for (let round = 0; round < 3; round++) {
      for (const [i, size] of sizes.entries()) {
        const stream = (i + round) % 3 === 0 ? 'stderr' : 'stdout';
        const text = String.fromCharCode(97 + (seq % 26)).repeat(size);
        files.write(new OutputChunk(++seq, stream, Buffer.from(text), size));
        sent.push({ stream, text });
      }
      // What is written so far is readable now, while the run goes on (a status read of evicted output).
      await files.written();
      const read = await readOutputFiles(files.paths, 0, Number.MAX_SAFE_INTEGER);
      expect(read.chunks.map((c) => [c.stream, c.data])).toEqual(sent.map((c) => [c.stream, c.text]));
    }
    await files.close();
    const joined = (stream: string) =>
      sent
        .filter((c) => c.stream === stream)
        .map((c) => c.text)
        .join('');
    expect(readFileSync(outputPaths(base).stdout, 'utf8')).toBe(joined('stdout'));
    expect(readFileSync(outputPaths(base).stderr, 'utf8')).toBe(joined('stderr'));
    expect(files.failed).toBeNull();
  });
});
