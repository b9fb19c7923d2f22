// Turns one execution's output into MCP progress notifications for one request: coalesced, heartbeated, flow-controlled.
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { setImmediate as nextMacrotask, setTimeout as delay } from 'node:timers/promises';
import type { OutputChunk, StreamName } from '../src/processes/output-log.js';
import type { TerminalText } from '../src/processes/terminal-text.js';
import type { FlowMeter } from '../src/sessions/flow-meter.js';
import { FlowSubscriber } from '../src/sessions/flow-subscriber.js';
import { FramePool } from './frame-pool.js';
import { progressFrame, type BytesEscaping } from './progress-frame.js';
import type { JsonBytesEscaper } from '../src/processes/json-bytes-escaper.js';
import { META_EXECUTION, META_KIND, META_SEQ, META_STREAM } from '../src/wire.js';

export interface ProgressSinkOptions {
  executionId: string;
  progressToken: string | number;
  send: (n: ServerNotification) => Promise<void>;
  /**
   * Write a ready frame (the notification serialised by progressFrame) straight to the session's transport,
   * when it can: then `send` is not used. Resolves once written, like `send`.
   */
  sendFrame?: (frame: Buffer) => Promise<void>;
  flow: FlowMeter;
  coalesceMs: number;
  chunkBytes: number;
  heartbeatMs: number;
  startedAt: number;
  /** Expected duration from history: progress bars get a real total. */
  expectedMs?: number;
  /** A round trip to the client (an MCP ping): once it answers, it has handled every earlier notification. */
  confirm?: () => Promise<unknown>;
  /** PTY output for a model: stdout messages carry the rendered text (escapes removed, \r overwrites collapsed). */
  render?: TerminalText;
  /** Escapes output bytes into ready frames (the server's one instance); without it, JSON.stringify does. */
  escaper?: JsonBytesEscaper;
}

/** Pause between the last output notification and the result (see close()). */
const FINAL_SETTLE_MS = 15;
/** Longest wait for the last write and the client's ping answer before the result goes out anyway. */
const CONFIRM_TIMEOUT_MS = 1_000;

export class ProgressSink extends FlowSubscriber {
  /** Chunks waiting to be coalesced: bytes, decoded only when their notification is built. */
  private buffered: OutputChunk[] = [];
  private bufferedStream: StreamName | null = null;
  private bufferedBytes = 0;
  private lastSeq = 0;
  private lastProgress = 0;
  private lastSentAt = Date.now();
  /** When output (not a heartbeat) last went out; 0 = never. Only output needs the settle in close(). */
  private lastOutputAt = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;
  private lastSent: Promise<unknown> = Promise.resolve();
  /** Memory for ready frames: a frame of chunkBytes of text lines (plus its envelope) fits a slab. */
  private readonly frames: FramePool;
  /** Output bytes escaped by the escaper, for frames that fit a pooled slab (progressFrame says why only those). */
  private readonly bytesEscaping: BytesEscaping | undefined;

  constructor(private readonly opts: ProgressSinkOptions) {
    super(opts.flow);
    const slabBytes = opts.chunkBytes + Math.ceil(opts.chunkBytes / 8) + 1024;
    // Enough empty slabs for all the flow meter lets be in flight: twice high water's worth of slabs (a slab
    // may hold one frame just over half its size) and two for the frames that go out after the meter is full.
    this.frames = new FramePool(slabBytes, Math.ceil((2 * opts.flow.highWaterBytes) / slabBytes) + 2);
    this.bytesEscaping = opts.escaper ? { escaper: opts.escaper, maxFrameBytes: slabBytes } : undefined;
    this.heartbeat = setInterval(() => this.beat(), Math.max(100, Math.floor(opts.heartbeatMs / 2)));
    this.heartbeat.unref();
  }

  /**
   * After a quiet spell (nothing sent for coalesceMs) a chunk goes out at once: a line printed now and
   * then reaches the client in about a millisecond. While output keeps coming, chunks are coalesced
   * for up to coalesceMs or until chunkBytes are buffered, so a flood costs few notifications. A chunk
   * that would take the buffer past chunkBytes flushes the buffer first, so no notification carries more
   * than chunkBytes unless one chunk alone does (a chunk is never split: its seq is the client's cursor).
   */
  write(chunk: OutputChunk): void {
    if (this.closed) return;
    const quiet = this.flushTimer === undefined && Date.now() - this.lastOutputAt >= this.opts.coalesceMs;
    if (this.bufferedStream !== null && this.bufferedStream !== chunk.stream) this.flush();
    if (this.bufferedBytes > 0 && this.bufferedBytes + chunk.bytes > this.opts.chunkBytes) this.flush();
    this.bufferedStream = chunk.stream;
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.bytes;
    this.lastSeq = chunk.seq;
    if (quiet || this.bufferedBytes >= this.opts.chunkBytes) this.flush();
    else if (this.flushTimer === undefined) {
      // Coalesce until coalesceMs after the last output notification, not after this chunk.
      const wait = Math.max(0, this.lastOutputAt + this.opts.coalesceMs - Date.now());
      this.flushTimer = setTimeout(() => this.flush(), wait);
    }
  }

  private nextProgress(): number {
    // Elapsed ms, forced to increase strictly on every notification as the spec requires.
    this.lastProgress = Math.max(this.lastProgress + 1, Date.now() - this.opts.startedAt);
    return this.lastProgress;
  }

  /** Send one notification whose message is the concatenation of `parts` (text, or output as UTF-8 bytes). */
  private emit(parts: readonly (string | OutputChunk)[], meta: Record<string, unknown>): void {
    this.lastSentAt = Date.now();
    const total = this.opts.expectedMs;
    const progress = this.nextProgress();
    const fields = {
      progressToken: this.opts.progressToken,
      progress,
      ...(total !== undefined && total > progress ? { total } : {}),
      _meta: { [META_EXECUTION]: this.opts.executionId, ...meta },
    };
    // A ready frame where the transport takes one: serialised once, counted by the flow meter at its exact
    // size, no message string ever built. Otherwise the SDK serialises the notification.
    let sent: Promise<void>;
    if (this.opts.sendFrame) {
      // Output goes in as its bytes: escaped without being decoded (progressFrame).
      const frame = progressFrame(
        fields,
        parts.map((p) => (typeof p === 'string' ? p : p.raw)),
        (size) => this.frames.take(size),
        this.bytesEscaping,
      );
      // Written: the transport holds the frame no more, so its memory serves a later frame. Not after an error.
      sent = this.opts.sendFrame(frame).then(() => this.frames.give(frame));
    } else {
      const message = parts.map((p) => (typeof p === 'string' ? p : p.data)).join('');
      sent = this.opts.send({ method: 'notifications/progress', params: { ...fields, message } });
    }
    // A closed transport rejects: the result and `status` still have everything, so nothing is lost.
    // The transport meters the frame it writes (attachSession), so the flow meter counts its real size.
    this.lastSent = sent.catch(() => undefined);
  }

  flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.bufferedStream === null || this.buffered.length === 0) return;
    const chunks = this.buffered;
    const stream = this.bufferedStream;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.bufferedStream = null;
    this.lastOutputAt = Date.now();
    const meta = { [META_KIND]: 'output', [META_STREAM]: stream, [META_SEQ]: this.lastSeq };
    if (this.opts.render && stream === 'stdout') {
      // Rendered terminal text holds back the line being drawn (a prompt, a progress bar) until it is finished.
      const text = chunks.map((c) => c.data).join('');
      const message = this.opts.render.write(text);
      if (message === '' && text !== '') return;
      this.emit([message], meta);
      return;
    }
    this.emit(chunks, meta);
  }

  /** A notice that is not output (the command waits for input, the execution started): `kind` names it. */
  notice(kind: string, message: string, meta: Record<string, unknown> = {}): void {
    if (this.closed) return;
    this.flush();
    this.emit([message], { [META_KIND]: kind, ...meta });
  }

  private beat(): void {
    if (this.closed || Date.now() - this.lastSentAt < this.opts.heartbeatMs / 2) return;
    const seconds = Math.round((Date.now() - this.opts.startedAt) / 1000);
    this.emit([`[still running after ${seconds}s, no new output]`], { [META_KIND]: 'heartbeat' });
  }

  /**
   * Send what is buffered and stop. The SDK client handles a notification a microtask later than a
   * response: if both arrive in one read, the response wins and the last output is dropped as an
   * "unknown token". So when output went out just now, wait until it is written and the client has
   * answered a ping sent after it (it answers in order), or a short while without `confirm`.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    // A command that printed nothing has no output to lose: answer at once. Otherwise confirm with a
    // ping (one round trip): a starved client can sit on a notification for longer than any fixed wait.
    const hadTail = this.buffered.length > 0 || this.lastOutputAt > 0;
    this.flush();
    // The rendered line still on screen goes out last (the result has it too).
    const onScreen = this.opts.render?.end() ?? '';
    if (onScreen !== '') this.emit([onScreen], { [META_KIND]: 'output', [META_STREAM]: 'stdout', [META_SEQ]: this.lastSeq });
    this.closed = true;
    clearInterval(this.heartbeat);
    this.unsubscribe?.();
    if (hadTail) {
      await Promise.race([this.lastSent, delay(CONFIRM_TIMEOUT_MS)]);
      if (this.opts.confirm) await Promise.race([this.opts.confirm().catch(() => undefined), delay(CONFIRM_TIMEOUT_MS)]);
      else await delay(FINAL_SETTLE_MS);
    } else {
      // One macrotask (a heartbeat just sent goes first), without the 1 ms floor of a timer.
      await nextMacrotask();
    }
  }
}
