// Finds every process of one sandbox by its PID namespace, including those that left the group with setsid.
import { readFileSync, readlinkSync } from 'node:fs';
import { isProcessAlive, listPids } from './proc.js';

/** One process inside a sandbox, by its host pid. */
export interface SandboxMember {
  pid: number;
  /** The sandbox's init (bwrap's reaper, pid 1 inside): it only reaps; killing it ends the whole sandbox. */
  init: boolean;
}

function readNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** The host pid of the sandbox's init: the child of the outer bwrap (which stays in the server's namespace). */
export function findSandboxInit(bwrapPid: number): number | undefined {
  let children: string;
  try {
    children = readFileSync(`/proc/${bwrapPid}/task/${bwrapPid}/children`, 'utf8');
  } catch {
    return undefined;
  }
  const own = readNamespace(bwrapPid);
  for (const word of children.split(' ')) {
    const pid = Number(word);
    // bwrap's one child is the namespace's init; a different namespace proves it (and not a stray fork).
    if (Number.isInteger(pid) && pid > 0 && readNamespace(pid) !== own) return pid;
  }
  return undefined;
}

/**
 * Every live process of the sandbox that the outer bwrap `bwrapPid` started, found by comparing /proc/<pid>/ns/pid
 * with its init's. A process cannot leave its PID namespace, so nothing escapes this list (setsid, double fork,
 * a new process group). Empty once the sandbox is gone (or before its init exists).
 */
export function listSandboxMembers(bwrapPid: number): SandboxMember[] {
  const init = findSandboxInit(bwrapPid);
  if (init === undefined) return [];
  const ns = readNamespace(init);
  if (ns === undefined) return [];
  const members: SandboxMember[] = [];
  for (const pid of listPids()) {
    if (readNamespace(pid) === ns && isProcessAlive(pid)) members.push({ pid, init: pid === init });
  }
  return members;
}
