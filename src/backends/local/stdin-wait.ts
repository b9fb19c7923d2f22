// Tells whether a process is blocked reading a given input (its stdin pipe or terminal), from /proc. Linux only.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Syscall numbers (per architecture) of a plain read, and of the waits a line editor uses (select/poll). */
interface SyscallTable {
  read: ReadonlySet<number>;
  /** poll, select and epoll families: the fd set is not visible, so these count only with the input open. */
  wait: ReadonlySet<number>;
}

const SYSCALLS: Partial<Record<NodeJS.Architecture, SyscallTable>> = {
  // read, pread64, readv / poll, select, epoll_wait, pselect6, ppoll, epoll_pwait, epoll_pwait2
  x64: { read: new Set([0, 17, 19]), wait: new Set([7, 23, 232, 270, 271, 281, 441]) },
  // read, readv, pread64 / pselect6, ppoll, epoll_pwait, epoll_pwait2 (the generic table)
  arm64: { read: new Set([63, 65, 67]), wait: new Set([72, 73, 22, 441]) },
};

/** Kernel wait channels of a reader blocked on a pipe, a terminal or a socket (names vary across kernels). */
const READ_WCHAN = /pipe_read|n_tty_read|tty_read|wait_woken|unix_stream|sk_wait_data/;
const MAX_FDS_CHECKED = 64;
const POLL_WCHAN = /poll_schedule_timeout|do_select|do_sys_poll|ep_poll|do_epoll_wait/;

/** What one member is doing with the input, as far as /proc tells. */
export type InputWait = 'reading' | 'polling' | 'other' | 'unknown';

/**
 * The input a command reads: fd targets as /proc/<pid>/fd links show them ("pipe:[123]", "socket:[45]",
 * "/dev/pts/3"). Several when stdin was a socket pair end and a terminal, say; usually one.
 */
export type InputTargets = ReadonlySet<string>;

/** The fd-0 target of a process (readlink /proc/<pid>/fd/0), or null when it cannot be read. */
export function readInputTarget(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/fd/0`);
  } catch {
    return null;
  }
}

/**
 * Is `pid` blocked on the input? 'reading': in read(2) (or readv/pread) on an fd that is the input, which is
 * certain. 'polling': in poll/select/epoll while holding the input open (line editors like readline and
 * Python's REPL wait there); the fd set is not visible, so this is strong evidence, not proof. 'unknown':
 * /proc does not say (no /proc, another architecture, no permission).
 */
export function inspectInputWait(pid: number, targets: InputTargets): InputWait {
  const table = SYSCALLS[process.arch];
  let syscall: string | null = null;
  try {
    syscall = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim();
  } catch {
    syscall = null;
  }
  if (table && syscall !== null && /^\d+ /.test(syscall)) {
    const [nrText, fdText] = syscall.split(' ');
    const nr = Number(nrText);
    if (table.read.has(nr)) return fdIsInput(pid, Number.parseInt(fdText ?? '', 16), targets) ? 'reading' : 'other';
    if (table.wait.has(nr)) return holdsInput(pid, targets) ? 'polling' : 'other';
    return 'other';
  }
  if (syscall === 'running') return 'other';
  // No syscall view (permission, architecture): the wait channel names the kind of wait.
  let wchan: string;
  try {
    wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8').trim();
  } catch {
    return 'unknown';
  }
  if (wchan === '' || wchan === '0') return 'unknown';
  if (READ_WCHAN.test(wchan)) return holdsInput(pid, targets) ? 'reading' : 'other';
  if (POLL_WCHAN.test(wchan)) return holdsInput(pid, targets) ? 'polling' : 'other';
  return 'other';
}

/**
 * Whether any of `pids` waits on the input: true when one is reading or polling it, false when /proc
 * showed each of them doing something else, null when /proc could tell nothing (no /proc: the caller falls
 * back to "quiet output and open stdin").
 */
export function isWaitingForInput(pids: readonly number[], targets: InputTargets): boolean | null {
  if (targets.size === 0) return null;
  let known = false;
  for (const pid of pids) {
    if (isStopped(pid)) {
      known = true;
      continue;
    }
    const wait = inspectInputWait(pid, targets);
    if (wait === 'reading' || wait === 'polling') return true;
    if (wait === 'other') known = true;
  }
  return known ? false : null;
}

function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

function fdIsInput(pid: number, fd: number, targets: InputTargets): boolean {
  if (!Number.isInteger(fd) || fd < 0) return false;
  try {
    return targets.has(readlinkSync(`/proc/${pid}/fd/${fd}`));
  } catch {
    return false;
  }
}

/** True when one of the process's open fds is the input (a dup of stdin, the terminal reopened as /dev/tty...). */
function holdsInput(pid: number, targets: InputTargets): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  // A bounded look: the input is almost always among the first fds, and a process may hold thousands.
  for (const fd of fds.slice(0, MAX_FDS_CHECKED)) if (fdIsInput(pid, Number(fd), targets)) return true;
  return false;
}
