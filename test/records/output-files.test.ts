// OutputFiles: a run's log files are written as chunks come and are never reopened (so never truncated) once closed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputChunk } from '../../src/processes/output-log.js';
import { OutputFiles, outputPaths } from '../../src/records/output-files.js';

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
});
