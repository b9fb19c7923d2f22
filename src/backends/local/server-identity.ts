// Who this server process is (pid and start time) and whether a server named that way still runs.
import { readProcStat } from './proc.js';

/** A process named for good: a pid alone can be reused, a pid with its start time cannot. */
export interface ProcessIdentity {
  pid: number;
  startTicks: number | null;
}

/** How records tell whether the server that wrote them is still running (local to the server's machine). */
export interface ServerIdentity {
  readonly self: ProcessIdentity;
  isRunning(server: ProcessIdentity): boolean;
}

/** The identity of this server process, read from /proc once. */
export function localServerIdentity(): ServerIdentity {
  const self: ProcessIdentity = { pid: process.pid, startTicks: readProcStat(process.pid)?.startTicks ?? null };
  return {
    self,
    isRunning(server) {
      if (server.pid === self.pid && server.startTicks === self.startTicks) return true;
      const stat = readProcStat(server.pid);
      return stat !== undefined && stat.startTicks === server.startTicks && stat.state !== 'Z';
    },
  };
}
