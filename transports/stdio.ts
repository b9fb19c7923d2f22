// One MCP session on stdin/stdout. The 1.x SDK transport ignores stdin EOF, so we watch for it ourselves.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createSessionServer, type Engine } from './context.js';

export interface StdioServer {
  /** Resolves when stdin ends or the transport closes. */
  readonly ended: Promise<void>;
  close(): Promise<void>;
}

export async function startStdioServer(engine: Engine): Promise<StdioServer> {
  const transport = new StdioServerTransport(process.stdin, process.stdout);
  const session = engine.sessions.open('stdio', () => void transport.close());
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  transport.onclose = () => {
    void engine.sessions.end(session.id);
    end();
  };
  transport.onerror = (err) => engine.logger.debug({ err: err.message }, 'stdio transport error');
  const server = createSessionServer(engine, session);
  await server.connect(transport);
  process.stdin.once('end', end);
  process.stdin.once('close', end);
  return { ended, close: () => transport.close() };
}
