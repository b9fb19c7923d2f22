// ProgressSink on its own: when output goes out at once, when it is coalesced, and how large one notification may be.
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputChunk, type StreamName } from '../../src/processes/output-log.js';
import { FlowMeter } from '../../src/sessions/flow-meter.js';
import { META_KIND, META_SEQ, META_STREAM } from '../../src/wire.js';
import { ProgressSink } from '../../tools/progress-sink.js';
import { waitFor } from '../helpers/server.js';

interface Sent {
  message: string;
  kind: unknown;
  stream: unknown;
  seq: unknown;
}

const sinks: ProgressSink[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});

function record(sent: Sent[], params: unknown): void {
  const p = params as { message: string; _meta: Record<string, unknown> };
  sent.push({ message: p.message, kind: p._meta[META_KIND], stream: p._meta[META_STREAM], seq: p._meta[META_SEQ] });
}

/** A sink that hands its notifications to `send` (the SDK path), or as ready frames when `frames` is given. */
function makeSink(opts: { coalesceMs?: number; chunkBytes?: number; frames?: Buffer[] } = {}): { sink: ProgressSink; sent: Sent[] } {
  const sent: Sent[] = [];
  const frames = opts.frames;
  const sink = new ProgressSink({
    executionId: 'e1',
    progressToken: 't1',
    send: (n: ServerNotification) => {
      if (frames) throw new Error('a sink with sendFrame must not use send');
      record(sent, n.params);
      return Promise.resolve();
    },
    ...(frames
      ? {
          sendFrame: (frame: Buffer) => {
            frames.push(frame);
            const parsed = JSON.parse(frame.toString('utf8')) as { jsonrpc: string; method: string; params: unknown };
            expect([parsed.jsonrpc, parsed.method]).toEqual(['2.0', 'notifications/progress']);
            record(sent, parsed.params);
            return Promise.resolve();
          },
        }
      : {}),
    flow: new FlowMeter(1 << 20, 1 << 18),
    coalesceMs: opts.coalesceMs ?? 20,
    chunkBytes: opts.chunkBytes ?? 64 * 1024,
    heartbeatMs: 60_000,
    startedAt: Date.now(),
  });
  sinks.push(sink);
  return { sink, sent };
}

function chunkOf(seq: number, data: string, stream: StreamName = 'stdout'): OutputChunk {
  return new OutputChunk(seq, stream, Buffer.from(data, 'utf8'), Buffer.byteLength(data));
}

/** A sink whose ready frames stay in flight (a paused reader) until the test writes them: `written()` settles each. */
function pausedReaderSink(): { sink: ProgressSink; inFlight: Array<{ frame: Buffer; written: () => void }> } {
  const inFlight: Array<{ frame: Buffer; written: () => void }> = [];
  const sink = new ProgressSink({
    executionId: 'e1',
    progressToken: 't1',
    send: () => Promise.reject(new Error('a sink with sendFrame must not use send')),
    sendFrame: (frame: Buffer) => new Promise<void>((resolve) => inFlight.push({ frame, written: resolve })),
    flow: new FlowMeter(1 << 20, 1 << 18),
    coalesceMs: 0,
    chunkBytes: 64 * 1024,
    heartbeatMs: 60_000,
    startedAt: Date.now(),
  });
  sinks.push(sink);
  return { sink, inFlight };
}

/** The reader reads everything in flight: every frame is written, and the sink has taken its memory back. */
async function writeAll(inFlight: Array<{ frame: Buffer; written: () => void }>): Promise<void> {
  for (const f of inFlight.splice(0)) f.written();
  await new Promise((r) => setImmediate(r));
}

describe('ProgressSink', () => {
  it('sends a chunk at once when nothing was sent for the coalescing delay', () => {
    const { sink, sent } = makeSink({ coalesceMs: 1_000 });
    sink.write(chunkOf(1, 'first line\n'));
    // No timer involved: the notification is handed to the transport inside write().
    expect(sent).toEqual([{ message: 'first line\n', kind: 'output', stream: 'stdout', seq: 1 }]);
  });

  it('coalesces chunks that keep coming into one notification sent after the delay', async () => {
    const { sink, sent } = makeSink({ coalesceMs: 50 });
    sink.write(chunkOf(1, 'a\n'));
    sink.write(chunkOf(2, 'b\n'));
    sink.write(chunkOf(3, 'c\n'));
    sink.write(chunkOf(4, 'd\n'));
    expect(sent.map((s) => s.message)).toEqual(['a\n']);
    await waitFor(() => sent.length === 2, 10_000, 'the coalesced notification');
    expect(sent[1]).toEqual({ message: 'b\nc\nd\n', kind: 'output', stream: 'stdout', seq: 4 });
  });

  it('sends at once again once output has been quiet for the coalescing delay', async () => {
    const { sink, sent } = makeSink({ coalesceMs: 30 });
    sink.write(chunkOf(1, 'a\n'));
    sink.write(chunkOf(2, 'b\n'));
    await waitFor(() => sent.length === 2, 10_000, 'the coalesced notification');
    // Wait out a quiet spell measured from the last notification, then the next chunk needs no timer.
    const quietSince = Date.now();
    await waitFor(() => Date.now() - quietSince > 100, 10_000, 'a quiet spell');
    sink.write(chunkOf(3, 'c\n'));
    expect(sent.map((s) => s.message)).toEqual(['a\n', 'b\n', 'c\n']);
  });

  it('never puts more than chunkBytes of output in one notification when chunks fit', async () => {
    const { sink, sent } = makeSink({ coalesceMs: 50, chunkBytes: 1024 });
    const chunks = Array.from({ length: 40 }, (_, i) => chunkOf(i + 1, `${String(i).padStart(3, '0')}:${'x'.repeat(295)}\n`));
    for (const c of chunks) sink.write(c);
    await waitFor(() => sent.map((s) => s.message).join('') === chunks.map((c) => c.data).join(''), 10_000, 'all output');
    for (const s of sent) expect(Buffer.byteLength(s.message)).toBeLessThanOrEqual(1024);
    // Full notifications, not one per chunk: three 300-byte chunks fit in 1024 bytes.
    expect(sent.length).toBeLessThanOrEqual(Math.ceil(40 / 3) + 1);
    const seqs = sent.map((s) => s.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBe(40);
  });

  it('keeps stdout and stderr in separate notifications, in order', () => {
    const { sink, sent } = makeSink({ coalesceMs: 1_000 });
    sink.write(chunkOf(1, 'out1\n'));
    sink.write(chunkOf(2, 'out2\n'));
    sink.write(chunkOf(3, 'err1\n', 'stderr'));
    sink.flush();
    expect(sent.map((s) => [s.stream, s.message, s.seq])).toEqual([
      ['stdout', 'out1\n', 1],
      ['stdout', 'out2\n', 2],
      ['stderr', 'err1\n', 3],
    ]);
  });

  it('sends ready frames that parse to the very notification the SDK path sends, JSON-heavy output included', () => {
    const texts = ['plain line\n', 'quotes " and \\ backslashes\n', '\u0000\u0001\u001f controls\t', 'emoji 😀 and ü\n'];
    const frames: Buffer[] = [];
    const viaFrames = makeSink({ coalesceMs: 1_000, frames });
    const viaSdk = makeSink({ coalesceMs: 1_000 });
    for (const { sink } of [viaFrames, viaSdk]) {
      texts.forEach((t, i) => sink.write(chunkOf(i + 1, t)));
      sink.flush();
    }
    expect(viaFrames.sent).toEqual(viaSdk.sent);
    expect(viaFrames.sent.map((s) => s.message).join('')).toBe(texts.join(''));
    // The frame is exactly the JSON of the message: no extra bytes a flow meter would miss or add.
    const params = (JSON.parse(frames[1]!.toString('utf8')) as { params: unknown }).params;
    expect(frames[1]!.length).toBe(Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params })));
  });
  it('reuses the memory of the frames a paused reader held, pause after pause: a little over high water in flight allocates nothing new', async () => {
    const { sink, inFlight } = pausedReaderSink();
    const pipeRead = 'x'.repeat(64 * 1024);
    let seq = 0;
    // What a flood does to a slow reader: 18 full frames (a little over the 1 MiB high-water mark) wait, then are read.
    const pause = async (): Promise<Set<ArrayBufferLike>> => {
      for (let i = 0; i < 18; i++) sink.write(chunkOf(++seq, pipeRead));
      const memory = new Set(inFlight.map((f) => f.frame.buffer));
      for (const f of inFlight) expect(f.frame.toString('latin1')).toContain(pipeRead);
      await writeAll(inFlight);
      return memory;
    };
    const first = await pause();
    expect(first.size).toBe(18); // one 64 KiB frame per slab
    for (let cycle = 0; cycle < 3; cycle++) {
      const again = await pause();
      for (const buffer of again) expect(first.has(buffer)).toBe(true);
    }
  });

  it('packs small notifications a stalled reader holds into shared memory, about their own size', async () => {
    const { sink, inFlight } = pausedReaderSink();
    for (let i = 0; i < 500; i++) sink.notice('input', `[waiting for input] prompt ${i}>`);
    expect(inFlight).toHaveLength(500);
    const bytes = inFlight.reduce((n, f) => n + f.frame.length, 0);
    const memory = new Set(inFlight.map((f) => f.frame.buffer));
    // Each slab is a 64 KiB chunk's frame (74,752 bytes): the frames fill slabs instead of taking one each.
    expect(memory.size).toBeLessThanOrEqual(Math.ceil(bytes / 74_752) + 1);
    // Every frame still holds its own notification: none was written over by a later one.
    inFlight.forEach((f, i) =>
      expect((JSON.parse(f.frame.toString('utf8')) as { params: { message: string } }).params.message).toBe(
        `[waiting for input] prompt ${i}>`,
      ),
    );
    await writeAll(inFlight);
  });
});
