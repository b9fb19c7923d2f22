// The CLI's lean MCP client against the real server: initialize, progress, cancellation that reaches the
// command, timeouts that cancel too, pings the server sends, and a close that fails what is pending.
import { beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_ERRORS, McpWsClient, RpcError, type Progress } from '../../src/cli/mcp-ws-client.js';
import { waitFor, type TestServer } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

// Servers and clients a test starts are closed after it; then every process group it saw must be gone.
const fx = useTestServer();
const groups = fx.groups;
let server: TestServer | undefined; // the test's server, started by its first connect()
beforeEach(() => {
  server = undefined;
});

async function connect(): Promise<McpWsClient> {
  server ??= await fx.start({ graceMs: 300 });
  const c = await McpWsClient.connect(new URL(server.url), { name: 'test', version: '0' });
  fx.defer(() => c.close());
  return c;
}

/** The only execution on the server (started by the test). */
function onlyExecution() {
  const [e] = server!.engine.executions.list();
  if (!e) throw new Error('no execution');
  groups.add(e.snapshot().pgid);
  return e;
}

describe('McpWsClient', () => {
  it("negotiates a protocol version and streams a command's output as progress before the result", async () => {
    const c = await connect();
    expect(c.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const seen: Progress[] = [];
    const result = (await c.request(
      'tools/call',
      { name: 'execute', arguments: { command: 'echo one; sleep 0.3; echo two' } },
      { onprogress: (p) => seen.push(p) },
    )) as { structuredContent: { stdout: string; exitCode: number } };
    groups.add(onlyExecution().snapshot().pgid);
    expect(result.structuredContent).toMatchObject({ stdout: 'one\ntwo\n', exitCode: 0 });
    expect(seen.map((p) => p.message ?? '').join('')).toContain('one');
  });

  it('an abort cancels the command on the server and rejects with ABORTED', async () => {
    const c = await connect();
    const ac = new AbortController();
    const call = c.request(
      'tools/call',
      { name: 'execute', arguments: { command: 'sleep 60' } },
      { signal: ac.signal, onprogress: () => undefined },
    );
    await waitFor(() => server!.engine.executions.list().length === 1, 10_000, 'the execution to start');
    const execution = onlyExecution();
    ac.abort();
    await expect(call).rejects.toMatchObject({ code: CLIENT_ERRORS.ABORTED });
    await waitFor(() => execution.state === 'exited', 10_000, 'the cancelled command to end');
    expect(execution.terminationReason).toBe('cancel');
  });

  it('a timeout cancels the command on the server too, unless progress keeps resetting it', async () => {
    const c = await connect();
    const quiet = c.request('tools/call', { name: 'execute', arguments: { command: 'sleep 60' } }, { timeout: 1_000 });
    await expect(quiet).rejects.toMatchObject({ code: CLIENT_ERRORS.REQUEST_TIMEOUT });
    const execution = onlyExecution();
    await waitFor(() => execution.state === 'exited', 10_000, 'the timed-out command to end');
    expect(execution.terminationReason).toBe('cancel');

    // Output every 0.3 s keeps a 1.5 s timeout from firing over 3 s.
    const talking = await c.request(
      'tools/call',
      { name: 'execute', arguments: { command: 'for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 0.3; done' } },
      { timeout: 1_500, resetTimeoutOnProgress: true, onprogress: () => undefined },
    );
    expect((talking as { structuredContent: { exitCode: number } }).structuredContent.exitCode).toBe(0);
  });

  it('fails pending requests with CONNECTION_CLOSED when the connection drops, and refuses new ones', async () => {
    const c = await connect();
    const call = c.request('tools/call', { name: 'execute', arguments: { command: 'sleep 60' } });
    await waitFor(() => server!.engine.executions.list().length === 1, 10_000, 'the execution to start');
    onlyExecution();
    c.socket.terminate(); // no close handshake: the TCP connection is simply gone
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(CLIENT_ERRORS.CONNECTION_CLOSED);
    expect(c.closed).toBe(true);
    await expect(c.request('ping')).rejects.toMatchObject({ code: CLIENT_ERRORS.CONNECTION_CLOSED });
  });

  it("passes the server's JSON-RPC errors through with their code", async () => {
    const c = await connect();
    await expect(c.request('no/such/method')).rejects.toMatchObject({ code: -32601 });
  });
});
