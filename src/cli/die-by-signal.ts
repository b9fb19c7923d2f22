// Ending the client by the signal that interrupted it, the convention shells rely on to stop a loop.

/** Signals that end a `run`: the remote command is cancelled first, then the client dies by the same signal. */
export const ENDING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type EndingSignal = (typeof ENDING_SIGNALS)[number];

/**
 * Die by `signal` with its default action, so a parent shell sees "killed by SIGINT" (and `for ...; do
 * cc-executor run ...; done` stops at the first Ctrl-C) rather than an exit code. Exits with
 * `fallbackCode` if the signal does not end the process (it is ignored, e.g. under nohup).
 */
export function dieBySignal(signal: EndingSignal, fallbackCode: number): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  setTimeout(() => process.exit(fallbackCode), 1_000);
}
