// Raw Streamable HTTP requests for protocol-level tests: the headers the SDK sends, a bare initialize, one POST.

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
