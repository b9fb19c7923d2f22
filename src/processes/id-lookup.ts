// The one rule for naming an execution: its full id, or a prefix of at least 4 characters that only it starts with.
import { ServerError } from '../errors.js';

/** Ids are UUIDs; a prefix must have at least this many characters to name one. */
export const MIN_ID_PREFIX_CHARS = 4;

/**
 * The candidate named by `idOrPrefix` (exact id first, then a unique prefix), or undefined when none is.
 * Throws ServerError AMBIGUOUS_ID, listing the matches, when a prefix names several. `noun` names the candidates
 * in that message ("executions"; the original protocol says "processes").
 */
export function matchId<T extends { id: string }>(
  candidates: Iterable<T>,
  idOrPrefix: string,
  exact: T | undefined,
  noun = 'executions',
): T | undefined {
  if (exact) return exact;
  if (idOrPrefix.length < MIN_ID_PREFIX_CHARS) return undefined;
  const matches: T[] = [];
  for (const c of candidates) if (c.id.startsWith(idOrPrefix)) matches.push(c);
  if (matches.length > 1) {
    throw new ServerError('AMBIGUOUS_ID', `id prefix ${idOrPrefix} matches ${matches.length} ${noun}; give more characters`, {
      matches: matches.map((m) => m.id),
    });
  }
  return matches[0];
}
