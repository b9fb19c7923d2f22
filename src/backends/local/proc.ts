// Reads process facts from /proc: state, process group and start time. Linux only, by design.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** One-letter state: R S D T t Z X ... */
  state: string;
  ppid: number;
  pgid: number;
  /** Session id: the pid of the session leader (a PTY execution's leader; its job-control groups share it). */
  sid: number;
  /** Start time in clock ticks since boot (field 22): with the pid, it names a process uniquely. */
  startTicks: number;
}

/** Parse /proc/<pid>/stat; undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    state: rest[0] ?? '?',
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    sid: Number(rest[3]),
    startTicks: Number(rest[19]),
  };
}

/** A process counts as alive unless it is missing, a zombie or dead (Node 20's kill(pid, 0) says zombies are alive). */
export function isProcessAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Live (non-zombie) members of a process group, found by scanning /proc. */
export function listGroupMembers(pgid: number): ProcStat[] {
  return listProcesses((stat) => stat.pgid === pgid);
}

/** Live (non-zombie) members of a session (every process group in it), found by scanning /proc. */
export function listSessionMembers(sid: number): ProcStat[] {
  return listProcesses((stat) => stat.sid === sid);
}

/** Live (non-zombie) processes that `matches` accepts, in one scan of /proc. */
export function listProcesses(matches: (stat: ProcStat) => boolean): ProcStat[] {
  const members: ProcStat[] = [];
  for (const pid of listPids()) {
    const stat = readProcStat(pid);
    if (stat && matches(stat) && stat.state !== 'Z' && stat.state !== 'X') members.push(stat);
  }
  return members;
}

/** Every pid in /proc right now (empty where /proc cannot be read). */
export function listPids(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}
