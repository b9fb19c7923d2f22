// Shared bits of the hook tests: fixture paths, a server with hooks, temp dirs.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { ConfigSchema } from '../../src/config.js';
import { connectWs, startTestServer, type TestServer } from '../helpers/server.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/hooks/', import.meta.url));
export const fixture = (name: string) => join(FIXTURES, name);

export type HooksInput = NonNullable<z.input<typeof ConfigSchema>['hooks']>;

/** Start a server with these hooks and one WebSocket client; both are closed when `fn` ends, however it ends. */
export async function withHooks(
  hooks: HooksInput,
  fn: (client: Client, server: TestServer) => Promise<void>,
  overrides: Partial<z.input<typeof ConfigSchema>> = {},
): Promise<void> {
  const server = await startTestServer({ hooks, ...overrides });
  let client: Client | undefined;
  try {
    client = await connectWs(server.url);
    await fn(client, server);
  } finally {
    await client?.close();
    await server.close();
  }
}

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cc-hooks-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
