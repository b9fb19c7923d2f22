// Helpers used inside a role process: read its arguments, answer the bench, die with it.
export { installGlobalWebSocket } from './global-websocket.js';

export function roleArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

export function answer(message: { type: string; [key: string]: unknown }): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

/**
 * Run a role's body: its errors go back to the bench as an 'error' message, and the role exits when
 * the bench goes away (IPC channel closed) so no role outlives a crashed bench.
 */
export function runRoleMain(body: () => Promise<void>): void {
  process.on('disconnect', () => process.exit(1));
  // A normal exit on SIGTERM, so that exit hooks (--cpu-prof, --heap-prof) still write their files.
  process.once('SIGTERM', () => process.exit(0));
  body().catch(async (e: unknown) => {
    await answer({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exit(1);
  });
}

/** CPU time this process has used, ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
