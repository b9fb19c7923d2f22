// Per test file: a global WebSocket on Node 20, and a throwaway state directory so no test writes to the user's home.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import WebSocket from 'ws';

// Node 20 has no global WebSocket; the SDK's WebSocketClientTransport needs one.
if (!('WebSocket' in globalThis)) {
  (globalThis as Record<string, unknown>).WebSocket = WebSocket;
}

// A server started without --data-dir (stdio tests, the CLI) writes to $XDG_STATE_HOME/cc-executor.
const stateHome = mkdtempSync(join(tmpdir(), 'cc-executor-state-'));
process.env.XDG_STATE_HOME = stateHome;
afterAll(() => rmSync(stateHome, { recursive: true, force: true }));
