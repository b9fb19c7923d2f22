// McpGate: what every MCP message passes before the SDK sees it: initialize first, params checked, cancellations never lost.
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  InitializeRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  PingRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { JSONRPC_ERRORS, MCP_ERRORS } from '../src/wire.js';

/** How long a cancellation for a request we have not seen yet is remembered (Streamable HTTP: two POSTs race). */
const CANCEL_MEMORY_MS = 60_000;
/** At most this many such cancellations are remembered per session (the oldest is forgotten first). */
const CANCEL_MEMORY_MAX = 1_024;
const MAX_DETAIL_CHARS = 200;

/** Request schemas of the methods we serve: their params are checked here, so a bad one gets -32602 with one line. */
const REQUEST_SCHEMAS = new Map(
  [
    InitializeRequestSchema,
    PingRequestSchema,
    ListToolsRequestSchema,
    CallToolRequestSchema,
    ListResourcesRequestSchema,
    ListResourceTemplatesRequestSchema,
    ReadResourceRequestSchema,
    SubscribeRequestSchema,
    UnsubscribeRequestSchema,
  ].map((schema) => [schema.shape.method.value as string, schema]),
);

/** Methods a client may send before initialize (the spec: pings only). */
const BEFORE_INITIALIZE = new Set(['initialize', 'ping']);

/** A transport the gate can wrap: the SDK's contract, plus Streamable HTTP's per-request stream close. */
export type GatedTransport = Transport & { closeSSEStream?: (requestId: RequestId) => void };

export interface McpGateOptions {
  /** Names of the tools this server has: a call to any other is a JSON-RPC -32602, not a tool result. */
  tools: ReadonlySet<string>;
  /** Whether a resource URI names something this server serves (else resources/read answers -32002). */
  isResourceUri: (uri: string) => boolean;
}

type Incoming = Record<string, unknown> & { method?: unknown; id?: unknown; params?: unknown };

/** One line about the first problem zod found: `params.arguments: expected record, received number`. */
function describeIssue(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
  const text = `${where}${issue.message}`;
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}...` : text;
}

/**
 * A Transport decorator for one MCP session. The SDK's `Server` executes requests that arrive before
 * `initialize`, answers a malformed `params` with -32603 and a zod dump, turns an unknown tool into
 * a tool result, and forgets a cancellation that arrives before its request (over Streamable HTTP the
 * two are separate POSTs that race). The gate answers these as the spec says before the SDK sees them,
 * and closes the response stream of a cancelled request (the SDK never answers it).
 */
export class McpGate implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  private initialized = false;
  /** Requests handed to the SDK and not answered yet. */
  private readonly inFlight = new Set<RequestId>();

  /** Requests received and not yet answered. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }
  /** Cancellations of requests not seen yet, with when they are forgotten. */
  private readonly earlyCancels = new Map<RequestId, number>();

  constructor(
    private readonly inner: GatedTransport,
    private readonly options: McpGateOptions,
  ) {}

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }

  start(): Promise<void> {
    this.inner.onmessage = (message, extra) => this.receive(message, extra);
    // Chained after what the transport's owner set (attachSession: the session ends first), like the SDK does.
    const ownClose = this.inner.onclose;
    const ownError = this.inner.onerror;
    this.inner.onclose = () => {
      ownClose?.();
      this.onclose?.();
    };
    this.inner.onerror = (error) => {
      ownError?.(error);
      this.onerror?.(error);
    };
    return this.inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('id' in message && message.id !== undefined && ('result' in message || 'error' in message)) this.inFlight.delete(message.id);
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    const m = message as Incoming;
    if (typeof m.method !== 'string') return this.onmessage?.(message, extra);
    if (m.id === undefined) {
      if (m.method === 'notifications/cancelled') this.cancelled(m.params);
      return this.onmessage?.(message, extra);
    }
    const id = m.id as RequestId;
    const refusal = this.check(m.method, m);
    if (refusal) {
      this.inner.send({ jsonrpc: '2.0', id, error: refusal }).catch((e: unknown) => this.onerror?.(e as Error));
      return;
    }
    if (m.method === 'initialize') this.initialized = true;
    this.inFlight.add(id);
    this.onmessage?.(message, extra);
    this.forgetExpiredCancels();
    if (this.earlyCancels.delete(id)) {
      // Its cancellation came first: the SDK would have dropped it. Cancel the request now it is known.
      this.onmessage?.({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: id, reason: 'cancelled before it arrived' },
      });
      this.endRequest(id);
    }
  }

  /** The error to answer instead of handing the request on, or undefined when it may go on. */
  private check(method: string, m: Incoming): { code: number; message: string } | undefined {
    if (!this.initialized && !BEFORE_INITIALIZE.has(method)) {
      return {
        code: JSONRPC_ERRORS.INVALID_REQUEST,
        message: `Invalid Request: ${method} before initialize; initialize the session first`,
      };
    }
    const schema = REQUEST_SCHEMAS.get(method);
    if (!schema) return undefined; // the SDK answers -32601
    const parsed = schema.safeParse(m);
    if (!parsed.success)
      return { code: JSONRPC_ERRORS.INVALID_PARAMS, message: `Invalid params for ${method}: ${describeIssue(parsed.error)}` };
    const params = parsed.data.params as Record<string, unknown>;
    if (method === 'tools/call' && !this.options.tools.has(params.name as string)) {
      const known = [...this.options.tools].join(', ');
      return { code: JSONRPC_ERRORS.INVALID_PARAMS, message: `Unknown tool: ${JSON.stringify(params.name)} (this server has ${known})` };
    }
    if (method === 'resources/read' && !this.options.isResourceUri(params.uri as string)) {
      return { code: MCP_ERRORS.RESOURCE_NOT_FOUND, message: `Resource not found: ${String(params.uri).slice(0, MAX_DETAIL_CHARS)}` };
    }
    return undefined;
  }

  private cancelled(params: unknown): void {
    const id = (params as { requestId?: unknown } | undefined)?.requestId;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    if (this.inFlight.has(id)) {
      // The SDK aborts the handler and never answers: end the request's response stream now.
      queueMicrotask(() => this.endRequest(id));
      return;
    }
    this.forgetExpiredCancels();
    if (this.earlyCancels.size >= CANCEL_MEMORY_MAX) this.earlyCancels.delete(this.earlyCancels.keys().next().value!);
    this.earlyCancels.set(id, Date.now() + CANCEL_MEMORY_MS);
  }

  /** A cancelled request gets no answer: close its response stream (Streamable HTTP) so the client's POST ends. */
  private endRequest(id: RequestId): void {
    this.inFlight.delete(id);
    this.inner.closeSSEStream?.(id);
  }

  private forgetExpiredCancels(): void {
    const now = Date.now();
    for (const [id, until] of this.earlyCancels) {
      if (until > now) break; // inserted in order, so the rest expire later
      this.earlyCancels.delete(id);
    }
  }
}
