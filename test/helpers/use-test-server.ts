// One test file's servers, clients and temp dirs, started on demand and all stopped by the fixture itself.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connectHttp, connectWs, GroupTracker, startTestServer, type TestServer } from './server.js';
import { spawnServer, type ServerProcess } from './spawn-server.js';

/** Config overrides for a test server, as `startTestServer` takes them. */
export type ServerOverrides = Parameters<typeof startTestServer>[0];

/** A step of cleanup: run once, in reverse order of registration. */
type Cleanup = () => unknown;

export interface ServerFixture {
  /** Process groups the tests saw: after each test, none may have a live member. */
  readonly groups: GroupTracker;
  /** The server started last (the file's server with `scope: 'file'`); throws when none runs. */
  readonly server: TestServer;
  /** The first WebSocket client connected to the server started last; throws when there is none. */
  readonly client: Client;
  /** Start a server; it is closed after the test (or after the file, for the file's own server). */
  start(overrides?: ServerOverrides): Promise<TestServer>;
  /** Start a server and connect a WebSocket client to it (then `fixture.server`/`fixture.client`). */
  serve(overrides?: ServerOverrides): Promise<Client>;
  /** Another SDK client over WebSocket (default: the last server's URL), closed with the test. */
  connect(url?: string): Promise<Client>;
  /** An SDK client over Streamable HTTP, closed with the test (`transport.terminateSession()` sends the DELETE). */
  connectHttp(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }>;
  /** The built server binary as a child process (`spawnServer`'s arguments), SIGKILLed and awaited after the test. */
  spawn(...args: Parameters<typeof spawnServer>): Promise<ServerProcess>;
  /** A fresh, real-path temp dir, removed after the test. */
  tempDir(prefix?: string): string;
  /** One more cleanup step for the running test (steps run newest first, before the group check). */
  defer(step: Cleanup): void;
}

/**
 * Register the hooks that keep a test file clean and return its fixture.
 *
 * - `scope: 'test'` (default): nothing starts up front; every server, client, temp dir and deferred step a
 *   test creates is undone after it, newest first (so a client closes before its server, and a server, which
 *   ends its executions, before the temp dir they ran in goes), and then every tracked process group must be gone.
 * - `scope: 'file'`: one server with `config` and one WebSocket client start before the file's tests and
 *   close after them. After each test the tracked groups must be gone (the assertion comes first), and then
 *   any execution of that server that still has a live process is killed, so nothing a test started
 *   outlives it. What a test starts itself (`connect`, `start`, `defer`, `tempDir`) still ends with the test.
 */
export function useTestServer(
  opts: {
    scope?: 'test' | 'file';
    config?: ServerOverrides;
    /** How long tracked groups may take to be gone after a test (default 5 s; a browser suite on loaded cores wants more). */
    groupsGoneMs?: number;
  } = {},
): ServerFixture {
  const groups = new GroupTracker();
  const fileSteps: Cleanup[] = [];
  const testSteps: Cleanup[] = [];
  let inFile = false; // set while beforeAll starts the file's server: its cleanup belongs to the file
  let last: { server: TestServer; client?: Client } | undefined;
  let fileLast: typeof last; // the file's own server and client, when scope is 'file'

  const steps = () => (inFile ? fileSteps : testSteps);

  const fixture: ServerFixture = {
    groups,
    get server() {
      if (!last) throw new Error('no test server is running: call serve() or start() first');
      return last.server;
    },
    get client() {
      if (!last?.client) throw new Error('no client: call serve() first');
      return last.client;
    },
    async start(overrides = {}) {
      const server = await startTestServer(overrides);
      // A test may close its server itself (a restart on the same data dir): the fixture's close then waits for that one.
      const close = server.close.bind(server);
      let closing: Promise<void> | undefined;
      server.close = () => (closing ??= close());
      steps().push(() => server.close());
      last = { server };
      return server;
    },
    async serve(overrides = {}) {
      const server = await fixture.start(overrides);
      return fixture.connect(server.url);
    },
    async connect(url) {
      const target = url ?? fixture.server.url;
      const client = await connectWs(target);
      // Closing a client is cleanup, not behaviour under test: a session the test already broke may refuse.
      steps().push(() => client.close().catch(() => undefined));
      if (last && !last.client && last.server.url === target) last.client = client;
      return client;
    },
    async connectHttp(url) {
      const connected = await connectHttp(url);
      steps().push(() => connected.client.close().catch(() => undefined));
      return connected;
    },
    async spawn(...args) {
      const proc = await spawnServer(...args);
      steps().push(async () => {
        proc.kill();
        await proc.exited;
      });
      return proc;
    },
    tempDir(prefix = 'ccx-test-') {
      const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
      steps().push(() => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    defer(step) {
      steps().push(step);
    },
  };

  if (opts.scope === 'file') {
    beforeAll(async () => {
      inFile = true;
      try {
        await fixture.serve(opts.config);
        fileLast = last;
      } finally {
        inFile = false;
      }
    });
    afterAll(() => runSteps(fileSteps));
  }

  afterEach(async () => {
    const errors = await collect(() => runSteps(testSteps));
    // What the test started is closed: the next test's `fixture.server` is the file's own again, if any.
    last = fileLast;
    errors.push(...(await collect(() => groups.expectGroupsGone(opts.groupsGoneMs))));
    const fileServer = fileLast?.server;
    if (fileServer) errors.push(...(await collect(() => endLeftovers(fileServer))));
    if (errors.length > 0) throw errors[0];
  });

  return fixture;
}

/** Kill every execution of `server` that still has a live process, and wait until each is gone. */
async function endLeftovers(server: TestServer): Promise<void> {
  const live = server.engine.executions.list().filter((e) => e.hasLiveProcesses());
  await Promise.all(live.map((e) => e.terminate('kill', 0)));
}

/** Run every step (newest first) even when one fails; throws the first failure after all ran. */
async function runSteps(steps: Cleanup[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps.splice(0).reverse()) errors.push(...(await collect(step)));
  if (errors.length > 0) throw errors[0];
}

async function collect(step: Cleanup): Promise<unknown[]> {
  try {
    await step();
    return [];
  } catch (e) {
    return [e];
  }
}
