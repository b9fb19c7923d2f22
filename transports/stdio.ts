// One MCP session on stdin/stdout. The 1.x SDK transport ignores stdin EOF, so we watch for it ourselves.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Readable, Writable } from 'node:stream';
import { attachSession, type MeteredTransport } from './attach-session.js';
import type { Engine } from './context.js';

export interface StdioServer {
  /** Resolves when stdin ends or the transport closes. */
  readonly ended: Promise<void>;
  close(): Promise<void>;
}

/** The SDK's stdio transport with a metered send: the same line it writes, counted until the pipe took it. */
class MeteredStdioTransport extends StdioServerTransport implements MeteredTransport {
  onframe?: (bytes: number, written: Promise<unknown>) => void;

  constructor(
    stdin: Readable,
    private readonly out: Writable,
  ) {
    super(stdin, out);
  }

  override send(message: JSONRPCMessage): Promise<void> {
    const line = serializeMessage(message);
    // As the SDK's own send: resolved when write() takes it, or once the pipe drains.
    const written = new Promise<void>((resolve) => {
      if (this.out.write(line)) resolve();
      else this.out.once('drain', resolve);
    });
    this.onframe?.(Buffer.byteLength(line), written);
    return written;
  }

  /** A ready frame (one serialised message): written as it is, then the newline that ends a message on stdio. */
  sendFrame(frame: Buffer): Promise<void> {
    // Corked, the two writes go out as one (a writev), without copying the frame to append the newline.
    this.out.cork();
    this.out.write(frame);
    const took = this.out.write('\n');
    this.out.uncork();
    const written = new Promise<void>((resolve) => {
      if (took) resolve();
      else this.out.once('drain', resolve);
    });
    this.onframe?.(frame.length + 1, written);
    return written;
  }
}

export async function startStdioServer(engine: Engine): Promise<StdioServer> {
  const transport = new MeteredStdioTransport(process.stdin, process.stdout);
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  // stdio is the process's own lifeline: whatever the reason, closing it ends the server.
  await attachSession(engine, { kind: 'stdio', transport, close: () => void transport.close(), onEnd: () => end() });
  process.stdin.once('end', end);
  process.stdin.once('close', end);
  return { ended, close: () => transport.close() };
}
