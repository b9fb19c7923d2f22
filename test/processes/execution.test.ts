// Execution on the scripted backend (a double of our own seam): states, output, back-pressure and termination, in milliseconds.
import { describe, expect, it } from 'vitest';
import { ServerError } from '../../src/errors.js';
import { Execution, type ExecutionOptions } from '../../src/processes/execution.js';
import type { OutputChunk, OutputSubscriber } from '../../src/processes/output-log.js';
import { LoadMonitor } from '../../src/system/load-monitor.js';
import { ScriptedBackend, type ScriptedHandle } from '../helpers/scripted-backend.js';

async function started(overrides: Partial<ExecutionOptions> = {}): Promise<{ execution: Execution; handle: ScriptedHandle }> {
  const backend = new ScriptedBackend();
  const launch = backend.prepare({ id: 'e1', argv: ['prog'], env: {} });
  const handle = (await backend.spawn(launch)) as ScriptedHandle;
  const load = new LoadMonitor({ cpuThreshold: 14, gpuThreshold: 14, multiplier: 3, cpuSampleMs: 2_000, gpuSampleMs: 10_000 });
  const execution = new Execution(
    {
      id: 'e1',
      sessionId: 's1',
      argv: ['prog'],
      cwd: launch.cwd,
      timeoutMs: 60_000,
      timeoutClamped: false,
      idleTimeoutMs: 0,
      graceMs: 1_000,
      background: false,
      outputBufferBytes: 64 * 1024,
      inlineOutputChars: 1_000,
      load,
      historyKey: null,
      expectedMs: undefined,
      timeoutRequested: false,
      meta: { transport: 'test', env: {}, loadAtStart: null },
      ...overrides,
    },
    handle,
  );
  return { execution, handle };
}

/** A subscriber the test fills and drains by hand. */
class ManualSubscriber implements OutputSubscriber {
  full = false;
  readonly chunks: OutputChunk[] = [];
  private waiters: Array<() => void> = [];
  write(chunk: OutputChunk): void {
    this.chunks.push(chunk);
  }
  drained(): Promise<void> {
    return this.full ? new Promise((r) => this.waiters.push(r)) : Promise.resolve();
  }
  drain(): void {
    this.full = false;
    for (const w of this.waiters.splice(0)) w();
  }
}

describe('Execution (scripted backend)', () => {
  it('streams both outputs into its log and ends with the exit code; pid and pgid are null where the backend has none', async () => {
    const { execution, handle } = await started();
    handle.print('stdout', 'hello ');
    handle.print('stderr', 'warn\n');
    handle.print('stdout', 'world\n');
    handle.end(3);
    await execution.done;
    const s = execution.snapshot();
    expect(s).toMatchObject({
      state: 'exited',
      exitCode: 3,
      signal: null,
      terminationReason: null,
      pid: null,
      pgid: null,
      stdoutBytes: 12,
      stderrBytes: 5,
    });
    expect(execution.log.read(0, 1_000).chunks.map((c) => [c.stream, c.data])).toEqual([
      ['stdout', 'hello '],
      ['stderr', 'warn\n'],
      ['stdout', 'world\n'],
    ]);
  });

  it('keeps output that is read only after the exit, however long the command ran silent before it', async () => {
    const { execution, handle } = await started();
    await new Promise((r) => setTimeout(r, 400)); // silent longer than the pipe's quiet time
    handle.exitLeavingPipesOpen(0);
    await new Promise((r) => setTimeout(r, 150)); // a loaded event loop reads the last bytes late
    handle.print('stdout', 'late line\n');
    await new Promise((r) => setTimeout(r, 50));
    handle.closePipes();
    await execution.done;
    expect(execution.log.read(0, 1_000).chunks.map((c) => c.data)).toEqual(['late line\n']);
  });

  it('cuts a pipe an escaped process holds once the group is gone and the pipe stays quiet', async () => {
    const { execution, handle } = await started();
    handle.print('stdout', 'before\n');
    handle.exitLeavingPipesOpen(0);
    // Never closed by the "escapee": the execution still ends, with what was printed.
    await execution.done;
    expect(execution.snapshot().state).toBe('exited');
    expect(execution.log.read(0, 1_000).chunks.map((c) => c.data)).toEqual(['before\n']);
  });

  it('holds a character split across reads until it is whole', async () => {
    const { execution, handle } = await started();
    const euro = Buffer.from('€', 'utf8');
    handle.print('stdout', euro.subarray(0, 1));
    handle.print('stdout', euro.subarray(1));
    handle.end(0);
    await execution.done;
    expect(execution.log.inlineOutput('stdout').text).toBe('€');
  });

  it('pause and resume go to the handle; a second pause and actions after exit are INVALID_STATE', async () => {
    const { execution, handle } = await started();
    await execution.pause();
    expect(execution.state).toBe('paused');
    await expect(execution.pause()).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await execution.resume();
    expect(execution.state).toBe('running');
    expect(handle.calls).toEqual(['pause', 'resume']);
    handle.end(0);
    await execution.done;
    await expect(execution.pause()).rejects.toBeInstanceOf(ServerError);
  });

  it('the first termination reason wins and the handle is terminated with the grace period', async () => {
    const { execution, handle } = await started();
    const first = execution.terminate('timeout', 250);
    void execution.terminate('cancel');
    await first;
    expect(execution.snapshot()).toMatchObject({ state: 'exited', terminationReason: 'timeout', signal: 'SIGTERM' });
    expect(handle.calls[0]).toBe('terminate 250');
  });

  it('kill ends it at once through the handle', async () => {
    const { execution, handle } = await started();
    await execution.terminate('kill');
    expect(handle.calls).toEqual(['kill']);
    expect(execution.snapshot()).toMatchObject({ terminationReason: 'kill', signal: 'SIGKILL' });
  });

  it('a full subscriber stops reading the output; draining it reads on, and nothing is lost', async () => {
    const { execution, handle } = await started();
    const sub = new ManualSubscriber();
    execution.log.subscribe(sub);
    sub.full = true;
    handle.print('stdout', 'a');
    await new Promise((r) => setImmediate(r));
    expect(handle.stdout.isPaused()).toBe(true);
    handle.print('stdout', 'b');
    await new Promise((r) => setImmediate(r));
    expect(execution.log.bytes.stdout).toBe(1);
    sub.drain();
    await new Promise((r) => setImmediate(r));
    expect(handle.stdout.isPaused()).toBe(false);
    handle.end(0);
    await execution.done;
    expect(sub.chunks.map((c) => c.data).join('')).toBe('ab');
  });

  it('past maxOutputBytes it keeps exactly the limit and terminates with output_limit', async () => {
    const { execution, handle } = await started({ maxOutputBytes: 10 });
    handle.print('stdout', '0123456789abcdef');
    await execution.done;
    expect(execution.snapshot()).toMatchObject({ terminationReason: 'output_limit', stdoutBytes: 10 });
    expect(execution.log.inlineOutput('stdout').text).toBe('0123456789');
  });

  it('an idle timeout ends a silent command', async () => {
    const { execution } = await started({ idleTimeoutMs: 30 });
    await execution.done;
    expect(execution.terminationReason).toBe('idle_timeout');
  });
});
