// Node 20 has no global WebSocket; the SDK's WebSocketClientTransport needs one.
import WebSocket from 'ws';

export function installGlobalWebSocket(): void {
  if (!('WebSocket' in globalThis)) (globalThis as Record<string, unknown>).WebSocket = WebSocket;
}
