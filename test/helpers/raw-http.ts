// Raw HTTP requests for protocol-level tests: the headers the SDK sends, a bare initialize, one POST, any request.
import { request } from 'node:http';

/** What every MCP POST carries (the SDK's server refuses others with 406/415). */
export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A bare initialize request, as MCP Inspector's CLI sends it. */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

/** POST one body (object or raw text) to /mcp; the whole response read, JSON parsed when it is JSON. */
export async function postMcp(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_HEADERS, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : undefined,
  };
}

/** An HTTP answer read whole: status, body as text, headers. */
export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request with node:http (headers exactly as given, Host and Origin included), the answer read whole. */
export function http(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.once('error', reject);
    req.end(options.body);
  });
}
