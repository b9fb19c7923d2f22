// Writes the SDK's web Responses onto Node's ServerResponse ourselves: SSE bodies chunk by chunk, each write metered until written.
import type { ServerResponse } from 'node:http';

/** What goes around one message on an SSE stream, as the SDK writes it: `event: message\ndata: ` and a blank line. */
const SSE_EVENT_HEAD = Buffer.from('event: message\ndata: ');
const SSE_EVENT_TAIL = Buffer.from('\n\n');

/**
 * A ready frame (one serialised JSON-RPC message, see Session.sendFrame) queued on an SDK SSE stream in
 * place of the SDK's own encoded event. The writer frames it as an SSE event and settles `written` once
 * Node has handed all of it to the socket (or the response closed first): then the frame's memory may serve
 * another frame.
 */
export class SseReadyFrame {
  constructor(
    readonly frame: Buffer,
    readonly written: () => void,
  ) {}

  /** Bytes this event takes on the wire (before HTTP's chunked framing). */
  get bytes(): number {
    return SSE_EVENT_HEAD.length + this.frame.length + SSE_EVENT_TAIL.length;
  }
}

/** Called for every piece written to a response: its size, and a promise that settles once it is written. */
export type WriteMeter = (bytes: number, written: Promise<unknown>) => void;

/**
 * Write `response` (from the SDK's web-standard transport) to `res`. A `text/event-stream` body is read as
 * it comes and each chunk is written at once with a callback: `meter` sees every byte from the moment it is
 * handed to Node until it has left for the socket, so the session's FlowMeter pauses the producers while
 * the client reads slowly (this is the back-pressure; the SDK's stream itself never fills). Anything else
 * (JSON errors, 202, DELETE's 200) is written whole. Resolves when the body has ended or the client left.
 */
export async function writeWebResponse(res: ServerResponse, response: Response, meter: WriteMeter): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') (headers[name] = (headers[name] as string[] | undefined) ?? []).push(value);
    else headers[name] = value;
  });
  const body = response.body;
  if (body === null || !response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const bytes = body === null ? undefined : Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, { ...headers, ...(bytes ? { 'content-length': String(bytes.length) } : {}) });
    res.end(bytes);
    return;
  }
  res.writeHead(response.status, headers);
  // The client learns the stream is open (and a GET stream's session) before the first event.
  res.flushHeaders();
  await pumpEvents(body.getReader(), res, meter);
}

/** Writes of one response whose callback has not run yet: settled by hand if the response closes first. */
type Outstanding = Set<() => void>;

async function pumpEvents(
  reader: ReadableStreamDefaultReader<Uint8Array | SseReadyFrame>,
  res: ServerResponse,
  meter: WriteMeter,
): Promise<void> {
  const outstanding: Outstanding = new Set();
  // Why settle by hand: once the socket is destroyed, Node drops later writes without calling their callback,
  // and bytes the client will never read must not keep the session's meter full.
  res.once('close', () => {
    reader.cancel().catch(() => undefined);
    for (const settle of [...outstanding]) settle();
  });
  for (;;) {
    let next: Awaited<ReturnType<typeof reader.read>>;
    try {
      next = await reader.read();
    } catch {
      break;
    }
    if (next.done) break;
    const chunk = next.value;
    if (res.destroyed || res.writableEnded) {
      if (chunk instanceof SseReadyFrame) chunk.written();
      continue;
    }
    if (chunk instanceof SseReadyFrame) writeFrame(res, chunk, outstanding, meter);
    else writeChunk(res, chunk, outstanding, meter);
  }
  if (!res.destroyed && !res.writableEnded) res.end();
}

/** One write whose callback settles the returned promise (and `onWritten`), or the response's close does. */
function trackedWrite(
  res: ServerResponse,
  outstanding: Outstanding,
  write: (done: () => void) => void,
  onWritten?: () => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const settle = () => {
      if (!outstanding.delete(settle)) return;
      onWritten?.();
      resolve();
    };
    outstanding.add(settle);
    write(settle);
  });
}

function writeChunk(res: ServerResponse, chunk: Uint8Array, outstanding: Outstanding, meter: WriteMeter): void {
  meter(
    chunk.byteLength,
    trackedWrite(res, outstanding, (done) => res.write(chunk, () => done())),
  );
}

/** The frame goes out between the SSE head and tail as it is (no copy); corked, so the socket sees one write. */
function writeFrame(res: ServerResponse, ready: SseReadyFrame, outstanding: Outstanding, meter: WriteMeter): void {
  const written = trackedWrite(
    res,
    outstanding,
    (done) => {
      res.cork();
      res.write(SSE_EVENT_HEAD);
      res.write(ready.frame);
      res.write(SSE_EVENT_TAIL, () => done());
      res.uncork();
    },
    ready.written,
  );
  meter(ready.bytes, written);
}
