// LegacyFrameWriter on a real socket with a real `ws` client: frames of every length form, in order with ws's own sends.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { LegacyFrameWriter, type JsonPieces } from '../../transports/legacy-frame-writer.js';
import { waitFor } from '../helpers/server.js';

const closers: Array<() => unknown> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A server-side `ws` connection and its raw socket, and a client that collects every text message. */
async function connected(): Promise<{ server: WebSocket; socket: Duplex; received: string[] }> {
  const http: Server = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const accepted = new Promise<{ server: WebSocket; socket: Duplex }>((resolve) =>
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => resolve({ server: ws, socket }))),
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => http.close(resolve)));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}/`, { perMessageDeflate: false });
  closers.push(() => client.terminate());
  const received: string[] = [];
  client.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false);
    received.push(String(data));
  });
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const { server, socket } = await accepted;
  closers.push(() => server.terminate());
  return { server, socket, received };
}

describe('LegacyFrameWriter', () => {
  it('writes messages of every length as whole text frames, larger ones across buffers, in order with ws.send, and meters their bytes', async () => {
    const { server, socket, received } = await connected();
    let metered = 0;
    const writes: Array<Promise<unknown>> = [];
    const writer = new LegacyFrameWriter(socket, (bytes, written) => {
      metered += bytes;
      writes.push(written);
    });
    // The escaped text in pieces of at most 4,096 code units (never between the halves of a surrogate pair).
    const message = (data: string): JsonPieces => {
      const json = JSON.stringify(data);
      const pieces = ['{"data":'];
      for (let start = 0; start < json.length;) {
        let end = Math.min(json.length, start + 4096);
        const code = json.charCodeAt(end - 1);
        if (end < json.length && code >= 0xd800 && code <= 0xdbff) end--;
        pieces.push(json.slice(start, end));
        start = end;
      }
      return [...pieces, '}'];
    };
    const sizes = [0, 1, 100, 125, 126, 1000, 65_535, 65_536, 81_000, 200_000, 3];
    const texts = sizes.map((n, i) => `${i}:` + 'é€𝄞"\\\n'.repeat(Math.ceil(n / 8)).slice(0, n));
    server.send('{"first":true}');
    const done = writer.write(texts.map(message));
    server.send('{"between":true}');
    await writer.write([message('last')]);
    await done;

    const expected = [
      '{"first":true}',
      ...texts.map((t) => JSON.stringify({ data: t })),
      '{"between":true}',
      JSON.stringify({ data: 'last' }),
    ];
    await waitFor(() => received.length === expected.length, 10_000, 'every message');
    expect(received).toEqual(expected);
    await Promise.all(writes);
    const payload = [...texts, 'last'].reduce((sum, t) => sum + Buffer.byteLength(JSON.stringify({ data: t })), 0);
    expect(metered).toBe(payload);
  });

  it('settles its writes when the socket is gone instead of leaving them pending', async () => {
    const { socket } = await connected();
    const writer = new LegacyFrameWriter(socket, () => undefined);
    socket.destroy();
    await expect(writer.write([['{"late":', '"x"', '}']])).resolves.toBeUndefined();
  });

  it('holds small batches a stalled reader has not taken in shared memory, about their own size, every byte intact', () => {
    // A socket that never finishes a write: everything stays in flight, as with a client that stopped reading.
    const held: Buffer[] = [];
    const stalled = new Duplex({ read: () => undefined, write: () => undefined });
    const queue = stalled.write.bind(stalled);
    // What the writer hands over, in order (the stream queues each behind the first, whose write never ends).
    stalled.write = ((chunk: Buffer, callback?: () => void) => {
      held.push(chunk);
      return queue(chunk, callback);
    }) as typeof stalled.write;
    closers.push(() => stalled.destroy());
    let metered = 0;
    const writer = new LegacyFrameWriter(stalled, (bytes) => (metered += bytes));
    const lines = Array.from({ length: 400 }, (_, i) => `{"line":${i},"data":"a line now and then"}`);
    for (const line of lines) void writer.write([[line]]);
    // One write per batch, each a text frame (2-byte header) of its message.
    expect(held.map((b) => b.subarray(2).toString('utf8'))).toEqual(lines);
    const bytes = held.reduce((n, b) => n + b.length, 0);
    expect(metered).toBe(bytes - 2 * lines.length);
    // Packed into 80 KiB buffers rather than one buffer per line (400 x 80 KiB = 31 MiB).
    expect(new Set(held.map((b) => b.buffer)).size).toBeLessThanOrEqual(Math.ceil(bytes / (80 * 1024)) + 1);
  });
});
