// Executions as MCP resources: the record and the output, listed, readable and subscribable for live updates.
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ServerError } from '../src/errors.js';
import { MCP_ERRORS } from '../src/wire.js';
import type { Execution } from '../src/processes/execution.js';
import type { OutputChunk, OutputSubscriber } from '../src/processes/output-log.js';
import type { ToolDeps } from './deps.js';

export const RECORD_URI = 'cc-executor://executions/{id}';
export const OUTPUT_URI = 'cc-executor://executions/{id}/output';
/** The live executions of every session; subscribe to hear when one starts or ends (the console's list). */
export const LIST_URI = 'cc-executor://executions';
const URI_PATTERN = /^cc-executor:\/\/executions\/([^/,]+)(\/output)?$/;
/** Updates for one subscription are coalesced to at most this often. */
const UPDATE_INTERVAL_MS = 250;
const OUTPUT_RESOURCE_MAX_BYTES = 4 * 1024 * 1024;
const LISTED_RECENT = 50;
/** resources/list shows recent executions, so it changes whenever one starts: at most one list_changed this often. */
const LIST_CHANGED_INTERVAL_MS = 1_000;

/** Whether a URI names one of our execution resources (anything else is "resource not found"). */
export function isExecutionResourceUri(uri: string): boolean {
  return uri === LIST_URI || URI_PATTERN.test(uri);
}

function recordUri(id: string): string {
  return `cc-executor://executions/${id}`;
}

/**
 * A missing execution is the spec's "resource not found" (-32002), also while the history is still loading (not
 * found yet: the message says to retry); other refusals are invalid params.
 */
function asMcpError(e: unknown): McpError {
  if (!(e instanceof ServerError)) return e as McpError;
  const notFound = e.code === 'NOT_FOUND' || e.code === 'HISTORY_LOADING';
  const code = notFound ? MCP_ERRORS.RESOURCE_NOT_FOUND : ErrorCode.InvalidParams;
  return new McpError(code, `${e.code}: ${e.message}`);
}

/** Registers the two templates and the subscribe/unsubscribe handlers; returns a cleanup for session end. */
export function registerExecutionResources(server: McpServer, deps: ToolDeps): () => void {
  // The output template first: `{id}` cannot contain '/', but keep the more specific one ahead anyway.
  server.registerResource(
    'execution-output',
    new ResourceTemplate(OUTPUT_URI, { list: undefined }),
    {
      title: 'Execution output',
      description: 'stdout and stderr of an execution, interleaved in order (first 4 MiB).',
      mimeType: 'text/plain',
    },
    async (uri, { id }) => {
      try {
        const out = await deps.readOutput(deps.find(String(id)), 0, OUTPUT_RESOURCE_MAX_BYTES);
        let text = out.chunks.map((c: OutputChunk) => c.data).join('');
        if (out.more) text += `\n[output continues; use the status tool with sinceSeq ${out.nextSeq}]\n`;
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
      } catch (e) {
        throw asMcpError(e);
      }
    },
  );

  server.registerResource(
    'execution',
    new ResourceTemplate(RECORD_URI, {
      list: () => ({
        resources: deps.records.list({ limit: LISTED_RECENT }).map((r) => ({
          uri: recordUri(r.id),
          name: `${r.state} ${r.command}`.slice(0, 120),
          mimeType: 'application/json',
          description: `started ${r.startedAt}, exit ${r.exitCode ?? '-'}`,
        })),
      }),
    }),
    {
      title: 'Execution record',
      description: 'The JSON record of one execution (state, exit, timeout facts, head/tail of output).',
      mimeType: 'application/json',
    },
    (uri, { id }) => {
      try {
        return {
          contents: [
            { uri: uri.href, mimeType: 'application/json', text: `${JSON.stringify(deps.details(deps.find(String(id))), null, 2)}\n` },
          ],
        };
      } catch (e) {
        throw asMcpError(e);
      }
    },
  );

  server.registerResource(
    'executions',
    LIST_URI,
    {
      title: 'Live executions',
      description: 'Every live execution of every session (id, command, state, session). Subscribe to hear when one starts or ends.',
      mimeType: 'application/json',
    },
    (uri) => {
      const list = deps.executions.list().map((e) => {
        const s = e.snapshot();
        return { id: s.id, command: s.command ?? s.argv?.join(' ') ?? '', state: s.state, sessionId: s.sessionId, startedAt: s.startedAt };
      });
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: `${JSON.stringify(list, null, 2)}\n` }] };
    },
  );

  const subscriptions = new Map<string, () => void>();

  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    const uri = request.params.uri;
    if (uri === LIST_URI) {
      if (!subscriptions.has(uri)) subscriptions.set(uri, watchList(server, deps));
      return {};
    }
    const m = URI_PATTERN.exec(uri);
    if (!m) throw new McpError(ErrorCode.InvalidParams, `not a cc-executor execution resource: ${uri}`);
    if (subscriptions.has(uri)) return {};
    let live;
    try {
      live = deps.find(m[1]!).execution;
    } catch (e) {
      throw asMcpError(e);
    }
    if (!live) {
      // A past execution: nothing will change, but the subscription is valid.
      subscriptions.set(uri, () => undefined);
      return {};
    }
    subscriptions.set(
      uri,
      watch(server, live, uri, () => deps.records.settled(live.id)),
    );
    return {};
  });

  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscriptions.get(request.params.uri)?.();
    subscriptions.delete(request.params.uri);
    return {};
  });

  const stopListChanged = announceListChanges(server, deps);
  return () => {
    stopListChanged();
    for (const stop of subscriptions.values()) stop();
    subscriptions.clear();
  };
}

/**
 * The capability says listChanged, so a new execution (a new entry in resources/list) sends
 * notifications/resources/list_changed, coalesced; clients that show resources (Claude Code's @-mentions) re-list.
 */
function announceListChanges(server: McpServer, deps: ToolDeps): () => void {
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      // Only once the client has initialized: before that, a notification would be a protocol error.
      if (server.isConnected() && server.server.getClientCapabilities() !== undefined)
        server.server.sendResourceListChanged().catch(() => undefined); // a session closing meanwhile
    }, LIST_CHANGED_INTERVAL_MS);
    timer.unref();
  };
  deps.executions.on('started', changed);
  return () => {
    clearTimeout(timer);
    deps.executions.off('started', changed);
  };
}

/** Notify when an execution starts or ends, coalesced like output updates. */
function watchList(server: McpServer, deps: ToolDeps): () => void {
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      server.server.sendResourceUpdated({ uri: LIST_URI }).catch(() => undefined);
    }, UPDATE_INTERVAL_MS);
  };
  deps.executions.on('started', changed);
  deps.executions.on('exited', changed);
  return () => {
    clearTimeout(timer);
    deps.executions.off('started', changed);
    deps.executions.off('exited', changed);
  };
}

/** Notify on new output (coalesced) and once more when the execution ends. */
function watch(server: McpServer, execution: Execution, uri: string, recordWritten: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const notify = () => {
    timer = undefined;
    if (!stopped) server.server.sendResourceUpdated({ uri }).catch(() => undefined);
  };
  const subscriber: OutputSubscriber = {
    full: false,
    drained: () => Promise.resolve(),
    write: () => {
      timer ??= setTimeout(notify, UPDATE_INTERVAL_MS);
    },
  };
  const unsubscribe = execution.log.subscribe(subscriber);
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    unsubscribe();
  };
  void execution.done.then(async () => {
    if (stopped) return;
    clearTimeout(timer);
    unsubscribe();
    // The final record is written first, so a read right after the update sees the end.
    await recordWritten();
    if (!stopped) server.server.sendResourceUpdated({ uri }).catch(() => undefined);
  });
  return stop;
}
