// Picks how the local backend holds "everything a command started" (config `containment`): a cgroup v2 per
// execution when the server may create them, else a process group; and checks limits against what is enforceable.
import type { Config } from '../../config.js';
import { ServerError } from '../../errors.js';
import type { ResourceLimits } from '../backend.js';
import { CgroupTree, type CgroupSources } from './cgroup-tree.js';

/** The chosen mode, why, and (in cgroup mode) the server's subtree. */
export interface Containment {
  mode: 'cgroup' | 'process-group';
  reason: string;
  tree: CgroupTree | null;
}

/** `containment: "cgroup"` was configured but cannot be had; the message is one line for stderr. */
export class ContainmentUnavailableError extends Error {
  override name = 'ContainmentUnavailableError';
}

/**
 * Detect at start. `auto` falls back to process groups (the reason says why, for one log line, status and
 * /health); `cgroup` throws ContainmentUnavailableError instead; `process-group` never touches cgroupfs.
 */
export function chooseContainment(setting: Config['containment'], dataDir: string, sources?: CgroupSources): Containment {
  if (setting === 'process-group') {
    return { mode: 'process-group', reason: 'configured (containment: "process-group")', tree: null };
  }
  const found = CgroupTree.detect(dataDir, sources);
  if (found.ok) {
    const how = setting === 'cgroup' ? 'configured' : 'detected';
    // Said once at start: without forkInto every command costs one more exec (docs/containment.md).
    const entry = found.tree.forkIntoProblem ? `; commands enter through a shell (${found.tree.forkIntoProblem})` : '';
    return { mode: 'cgroup', reason: `${how}: one cgroup v2 per execution under ${found.tree.serverDir}${entry}`, tree: found.tree };
  }
  if (setting === 'cgroup') {
    throw new ContainmentUnavailableError(`containment "cgroup" is not available: ${found.reason}`);
  }
  return {
    mode: 'process-group',
    reason: `cgroup v2 unavailable (${found.reason}); a process group cannot hold setsid or double-forked children`,
    tree: null,
  };
}

/** The server's default limits from config (0 / "" = none). */
export function configLimits(config: Pick<Config, 'memoryMaxBytes' | 'pidsMax' | 'cpuMax'>): ResourceLimits {
  return {
    ...(config.memoryMaxBytes > 0 ? { memoryMaxBytes: config.memoryMaxBytes } : {}),
    ...(config.pidsMax > 0 ? { pidsMax: config.pidsMax } : {}),
    ...(config.cpuMax !== '' ? { cpuMax: config.cpuMax } : {}),
  };
}

/** Quota per period as a fraction of one CPU, for comparing cpu.max values. */
function cpuFraction(cpuMax: string): number {
  const [quota, period] = cpuMax.split(' ').map(Number);
  return quota !== undefined && period ? quota / period : Infinity;
}

/**
 * A request's limits merged over the server's: a request may only tighten (a looser value is INVALID_INPUT,
 * never silently replaced). Every resulting limit must be enforceable here, else INVALID_INPUT says why.
 */
export function mergeLimits(server: ResourceLimits, requested: ResourceLimits | undefined, containment: Containment): ResourceLimits {
  const out: ResourceLimits = { ...server };
  for (const key of ['memoryMaxBytes', 'pidsMax'] as const) {
    const want = requested?.[key];
    if (want === undefined) continue;
    const cap = server[key];
    if (cap !== undefined && want > cap) {
      throw new ServerError('INVALID_INPUT', `${key} ${want} is above the server's limit ${cap}; a request may only tighten it`, {
        limit: key,
      });
    }
    out[key] = want;
  }
  if (requested?.cpuMax !== undefined) {
    if (server.cpuMax !== undefined && cpuFraction(requested.cpuMax) > cpuFraction(server.cpuMax)) {
      throw new ServerError(
        'INVALID_INPUT',
        `cpuMax "${requested.cpuMax}" is above the server's limit "${server.cpuMax}"; a request may only tighten it`,
        {
          limit: 'cpuMax',
        },
      );
    }
    out.cpuMax = requested.cpuMax;
  }
  for (const key of Object.keys(out) as Array<keyof ResourceLimits>) {
    const why = containment.tree
      ? containment.tree.unsupportedLimit(key)
      : `${key} needs cgroup containment, and this server uses process groups (${containment.reason})`;
    if (why) throw new ServerError('INVALID_INPUT', `cannot enforce ${key}: ${why}`, { limit: key });
  }
  return out;
}
