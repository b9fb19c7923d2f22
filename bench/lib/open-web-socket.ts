// Opens a `ws` client socket the way every bench client does: no compression, resolved once open.
import WebSocket from 'ws';

/** A `ws` socket to `url` (offering `protocol` when given), without permessage-deflate, once it is open. */
export async function openWebSocket(url: string, protocol?: string): Promise<WebSocket> {
  const ws =
    protocol === undefined ? new WebSocket(url, { perMessageDeflate: false }) : new WebSocket(url, protocol, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}
