// Shared bits of the hook tests: fixture paths, a server with hooks, temp dirs.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { ConfigSchema } from '../../src/config.js';
import type { TestServer } from '../helpers/server.js';
import type { ServerFixture, ServerOverrides } from '../helpers/use-test-server.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/hooks/', import.meta.url));
export const fixture = (name: string) => join(FIXTURES, name);

export type HooksInput = NonNullable<z.input<typeof ConfigSchema>['hooks']>;

/** Start a server with these hooks and one WebSocket client on the test's fixture (both closed after the test), and run `fn`. */
export async function withHooks(
  fx: ServerFixture,
  hooks: HooksInput,
  fn: (client: Client, server: TestServer) => Promise<void>,
  overrides: ServerOverrides = {},
): Promise<void> {
  const client = await fx.serve({ hooks, ...overrides });
  await fn(client, fx.server);
}

/** A fresh temp dir, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cc-hooks-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
