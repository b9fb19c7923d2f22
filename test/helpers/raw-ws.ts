// Raw `ws` peers for protocol-level tests: open with chosen subprotocols/headers, read one frame, initialize by hand.
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { HttpAnswer } from './raw-http.js';

export function open(url: string, protocols: string[] = ['mcp'], headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** The next message, passing over resources/list_changed (the server sends it to every session when any starts a command). */
export function nextMessage(ws: WebSocket): Promise<any> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse((data as Buffer).toString('utf8'));
      if (msg?.method === 'notifications/resources/list_changed') return;
      ws.off('message', onMessage);
      resolve(msg);
    };
    ws.on('message', onMessage);
  });
}

export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
}

export async function initialize(ws: WebSocket): Promise<void> {
  ws.send(
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    }),
  );
  const reply = await nextMessage(ws);
  expect(reply.result.serverInfo.name).toBe('cc-executor');
  ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
}

/** Try the WebSocket upgrade (subprotocol mcp) with these headers: 101 when it opened, else the refusal's status, body and headers. */
export function upgrade(url: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['mcp'], { headers });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '', headers: {} });
    });
    ws.once('error', (e) => {
      if (!String(e.message).includes('Unexpected server response')) reject(e);
    });
  });
}
