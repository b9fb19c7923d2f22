// The records the store knows, kept in start order with running totals: prune, history and lookups without sorting.

/** What the index needs of an entry: a unique id, a base name that sorts by start time, and its log size. */
export interface IndexedRecord {
  id: string;
  /** `<compact start time>_<id>`: plain string order is start order. */
  base: string;
  logBytes: number;
}

/**
 * Entries by id and in start order. Executions start in time order, so an insert is almost always an
 * append; the rare out-of-order one (clock step, records of an earlier run) is a binary-search insert.
 * `count` and `logBytes` are kept as entries come and go, so retention never has to add them up.
 */
export class RecordIndex<E extends IndexedRecord> {
  private readonly byId = new Map<string, E>();
  private order: E[] = [];
  private bytes = 0;
  /**
   * Every id in code-unit order, for prefix lookups (the status list and the CLI print 8-character prefixes):
   * a binary search instead of a walk over every entry. Kept in step by single inserts and deletes; rebuilt on
   * the next lookup after a bulk change (`undefined` until then).
   */
  private sortedIds: string[] | undefined = [];

  get count(): number {
    return this.byId.size;
  }

  get logBytes(): number {
    return this.bytes;
  }

  get(id: string): E | undefined {
    return this.byId.get(id);
  }

  /** Add an entry, or replace the one with the same id (its base must not change). */
  set(entry: E): void {
    const old = this.byId.get(entry.id);
    if (old) {
      this.bytes += entry.logBytes - old.logBytes;
      this.byId.set(entry.id, entry);
      this.order[this.positionOf(old)] = entry;
      return;
    }
    this.byId.set(entry.id, entry);
    this.bytes += entry.logBytes;
    if (this.sortedIds) this.sortedIds.splice(idLowerBound(this.sortedIds, entry.id), 0, entry.id);
    const last = this.order[this.order.length - 1];
    if (!last || last.base <= entry.base) this.order.push(entry);
    else this.order.splice(this.lowerBound(entry.base), 0, entry);
  }

  /**
   * Add entries loaded after this index began to fill (history read in the background), sorted by base:
   * one merge of two sorted lists. An id already present keeps its current entry (this run's is newer).
   */
  addSorted(sorted: E[]): void {
    const merged: E[] = [];
    let i = 0;
    let j = 0;
    while (i < sorted.length || j < this.order.length) {
      const a = sorted[i];
      const b = this.order[j];
      if (a && (!b || a.base <= b.base)) {
        i++;
        if (this.byId.has(a.id)) continue;
        this.byId.set(a.id, a);
        this.bytes += a.logBytes;
        merged.push(a);
      } else {
        j++;
        merged.push(b!);
      }
    }
    this.order = merged;
    this.sortedIds = undefined;
  }

  /** Remove one entry by id; returns it. */
  delete(id: string): E | undefined {
    const e = this.byId.get(id);
    if (!e) return undefined;
    this.order.splice(this.positionOf(e), 1);
    this.byId.delete(id);
    if (this.sortedIds) this.sortedIds.splice(idLowerBound(this.sortedIds, id), 1);
    this.bytes -= e.logBytes;
    return e;
  }

  /** Every entry, oldest first (a copy: the caller may await between entries). */
  inOrder(): E[] {
    return [...this.order];
  }

  /** Remove the entries for which `remove` says true, oldest first, in one pass; returns them. */
  removeWhere(remove: (e: E, totals: { count: number; logBytes: number }) => boolean | 'stop'): E[] {
    const removed: E[] = [];
    const kept: E[] = [];
    let stopped = false;
    for (const e of this.order) {
      if (stopped) {
        kept.push(e);
        continue;
      }
      const verdict = remove(e, { count: this.byId.size, logBytes: this.bytes });
      if (verdict === 'stop') {
        stopped = true;
        kept.push(e);
      } else if (verdict) {
        removed.push(e);
        this.byId.delete(e.id);
        this.bytes -= e.logBytes;
      } else kept.push(e);
    }
    if (removed.length > 0) {
      this.order = kept;
      // Pruning one or two records after each run is the common case: keep the id order instead of rebuilding it.
      if (this.sortedIds && removed.length <= 16) for (const e of removed) this.sortedIds.splice(idLowerBound(this.sortedIds, e.id), 1);
      else this.sortedIds = undefined;
    }
    return removed;
  }

  /** Newest first. */
  *newestFirst(): IterableIterator<E> {
    for (let i = this.order.length - 1; i >= 0; i--) yield this.order[i]!;
  }

  /** The entries whose id starts with `prefix`, at most `max` of them (enough to tell one from several). */
  withPrefix(prefix: string, max = 50): E[] {
    const ids = (this.sortedIds ??= [...this.byId.keys()].sort(compareCodeUnits));
    const out: E[] = [];
    for (let i = idLowerBound(ids, prefix); i < ids.length && out.length < max && ids[i]!.startsWith(prefix); i++) {
      out.push(this.byId.get(ids[i]!)!);
    }
    return out;
  }

  /** Every entry, in no particular order. */
  values(): IterableIterator<E> {
    return this.byId.values();
  }

  private lowerBound(base: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid]!.base < base) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private positionOf(entry: E): number {
    const at = this.lowerBound(entry.base);
    for (let i = at; i < this.order.length; i++) if (this.order[i]!.id === entry.id) return i;
    throw new Error(`record index out of order at ${entry.id}`);
  }
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first position in `ids` (sorted by code unit) whose id is not below `id`. */
function idLowerBound(ids: string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
