// One Streamable HTTP session's transport: the SDK's web-standard transport, written to Node by our own metered SSE writer.
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { WebStandardStreamableHTTPServerTransportOptions } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MeteredTransport } from './attach-session.js';
import { SseReadyFrame, writeWebResponse } from './web-response-writer.js';

/**
 * The parts of the SDK transport's state that a ready frame needs: which SSE stream serves a request, and
 * that stream's controller. Private in the SDK's types, so read through this shape and checked at runtime.
 */
interface SdkStreamState {
  _requestToStreamMapping: Map<RequestId, string>;
  _streamMapping: Map<string, { controller?: ReadableStreamDefaultController<unknown> }>;
  _standaloneSseStreamId: string;
}

function sdkStreamState(transport: object): SdkStreamState | undefined {
  const state = transport as Partial<SdkStreamState>;
  const fits =
    state._requestToStreamMapping instanceof Map && state._streamMapping instanceof Map && typeof state._standaloneSseStreamId === 'string';
  return fits ? (state as SdkStreamState) : undefined;
}

/**
 * The SDK's Streamable HTTP transport (sessions, validation, routing of each message to its request's SSE
 * stream, keep-alives: the spec's behaviour stays the SDK's), minus `@hono/node-server`: we turn the Node
 * request into a web Request and write the SDK's Response ourselves (writeWebResponse). Why: every byte
 * is then metered until Node has written it, and progress output travels as ready frames, buffers queued
 * on the SDK's stream in place of strings it would serialise and encode (a slow reader held those in V8's
 * heap, promoted: +75 MiB for 64 MiB of output).
 */
export class HttpSessionTransport extends WebStandardStreamableHTTPServerTransport implements MeteredTransport {
  onframe?: (bytes: number, written: Promise<unknown>) => void;
  /** Set when the SDK's stream state is as expected; otherwise progress goes through send() as objects. */
  readonly sendFrame?: (frame: Buffer, relatedRequestId?: RequestId) => Promise<void>;
  private readonly responses = new Set<ServerResponse>();
  /** True until the initialize request is handed over: the new session counts as connected meanwhile. */
  opening = true;

  constructor(options: WebStandardStreamableHTTPServerTransportOptions) {
    super(options);
    const state = sdkStreamState(this);
    if (state) this.sendFrame = (frame, relatedRequestId) => queueReadyFrame(state, frame, relatedRequestId);
  }

  /**
   * Serve one HTTP request of this session. `body` is the POST body already read (bounded by the caller),
   * `parsedBody` the parsed initialize request when the caller had to look inside.
   */
  async handleNodeRequest(req: IncomingMessage, res: ServerResponse, body?: Buffer, parsedBody?: unknown): Promise<void> {
    this.responses.add(res);
    res.once('close', () => this.responses.delete(res));
    this.opening = false;
    const response = await this.handleRequest(toWebRequest(req, body), parsedBody !== undefined ? { parsedBody } : undefined);
    await writeWebResponse(res, response, (bytes, written) => this.onframe?.(bytes, written));
  }

  /** Whether the client is connected now: a request of this session is in progress or its SSE stream is open. */
  get connected(): boolean {
    return this.opening || this.responses.size > 0;
  }
}

/**
 * Queue `frame` on the SSE stream the SDK would send a message related to `relatedRequestId` on (the
 * standalone GET stream without one), in order with the SDK's own events. Like the SDK's send(): a
 * request without a stream is an error; a stream the client has closed drops the message (we offer no
 * resumability, so nothing is stored for a replay).
 */
function queueReadyFrame(state: SdkStreamState, frame: Buffer, relatedRequestId?: RequestId): Promise<void> {
  const streamId = relatedRequestId === undefined ? state._standaloneSseStreamId : state._requestToStreamMapping.get(relatedRequestId);
  if (streamId === undefined) return Promise.reject(new Error(`No connection established for request ID: ${String(relatedRequestId)}`));
  const controller = state._streamMapping.get(streamId)?.controller;
  if (!controller) return Promise.resolve();
  return new Promise<void>((resolve) => {
    try {
      controller.enqueue(new SseReadyFrame(frame, resolve));
    } catch {
      resolve(); // closed meanwhile: dropped, as the SDK's writeSSEEvent does
    }
  });
}

/** The web Request the SDK's transport reads: same method, headers and URL; the body as read by the caller. */
function toWebRequest(req: IncomingMessage, body: Buffer | undefined): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    url = new URL('http://localhost/');
  }
  const hasBody = body !== undefined && req.method !== 'GET' && req.method !== 'HEAD';
  // A view of the same bytes (no copy); undici takes any Uint8Array, Node's types want an ArrayBuffer-backed one.
  const view = hasBody ? (new Uint8Array(body.buffer, body.byteOffset, body.length) as Uint8Array<ArrayBuffer>) : undefined;
  return new Request(url, { method: req.method ?? 'GET', headers, ...(view ? { body: view } : {}) });
}
