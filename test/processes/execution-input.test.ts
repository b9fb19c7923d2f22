// ExecutionInput with a handle double of our own seam: how "waiting for input" is decided with and without /proc.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessHandle } from '../../src/backends/backend.js';
import { ExecutionInput } from '../../src/processes/execution-input.js';
import { waitFor } from '../helpers/server.js';

const aborts: AbortController[] = [];
afterEach(() => {
  for (const a of aborts.splice(0)) a.abort();
});

/** An input over a real stream whose handle answers `blocked()` for waitingForInput (omitted: a backend without it). */
function input(blocked?: () => boolean | null, quietMs = 50, fallbackQuietMs = 400) {
  const stdin = new PassThrough();
  const written: string[] = [];
  stdin.on('data', (d: Buffer) => written.push(d.toString()));
  const abort = new AbortController();
  aborts.push(abort);
  let lastOutputAt = Date.now();
  const handle = (blocked ? { waitingForInput: blocked } : {}) as unknown as ProcessHandle;
  const events: boolean[] = [];
  const x = new ExecutionInput(handle, stdin, {
    quietMs,
    fallbackQuietMs,
    lastOutputAt: () => lastOutputAt,
    active: () => true,
    signal: abort.signal,
  });
  x.on('waiting', (w) => events.push(w));
  return {
    x,
    stdin,
    written,
    events,
    output() {
      lastOutputAt = Date.now();
      x.noteOutput();
    },
  };
}

describe('waiting for input', () => {
  it('follows /proc: waiting once a blocked read is seen after quiet output, never while the process is busy', async () => {
    let blocked = false;
    const t = input(() => blocked);
    await new Promise((r) => setTimeout(r, 300));
    expect(t.x.waiting).toBe(false);
    blocked = true;
    await waitFor(() => t.x.waiting, 10_000, 'waiting');
    expect(t.x.detection).toBe('proc');
    expect(t.events).toEqual([true]);
  });

  it('falls back to quiet output with stdin open when /proc cannot tell, and says it guessed', async () => {
    const t = input(() => null);
    await waitFor(() => t.x.waiting, 10_000, 'the quiet-output guess');
    expect(t.x.detection).toBe('quiet-output');
    // Output or a write ends the wait at once.
    t.output();
    expect(t.x.waiting).toBe(false);
    await waitFor(() => t.x.waiting, 10_000, 'the guess again');
    await t.x.write('answer\n', false);
    expect(t.x.waiting).toBe(false);
    expect(t.written.join('')).toBe('answer\n');
    expect(t.events).toEqual([true, false, true, false]);
  });

  it('uses the same fallback for a backend whose handles cannot tell at all', async () => {
    const t = input(undefined);
    await waitFor(() => t.x.waiting, 10_000, 'the quiet-output guess');
    expect(t.x.detection).toBe('quiet-output');
  });

  it('never waits once stdin is closed, and refuses more input with INVALID_STATE', async () => {
    const t = input(() => true);
    await waitFor(() => t.x.waiting, 10_000, 'waiting');
    await t.x.write('last\n', true);
    expect(t.x.waiting).toBe(false);
    expect(t.x.snapshot()).toEqual({ writes: 1, bytes: 5, closed: true, pending: 0 });
    expect(() => t.x.write('more', false)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    await new Promise((r) => setTimeout(r, 300));
    expect(t.x.waiting).toBe(false);
  });
});
