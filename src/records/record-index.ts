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
   * The ids of each group (`groupOf`, e.g. a record's state): a filter on a rare group looks at its few
   * entries instead of walking 100,000 (`status` history with `state: "lost"` did).
   */
  private readonly groups = new Map<string, Set<string>>();

  /** `groupOf` names the group an entry belongs to (see inGroup); without it, no groups are kept. */
  constructor(private readonly groupOf?: (e: E) => string) {}
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
      this.ungroup(old);
      this.group(entry);
      return;
    }
    this.byId.set(entry.id, entry);
    this.bytes += entry.logBytes;
    this.group(entry);
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
    // The usual case: everything loaded started before this run's first execution. One append, no merge
    // (a merge of 100,000 entries in one turn was part of a multi-second stall after a start).
    const first = this.order[0];
    const last = sorted[sorted.length - 1];
    if (!first || !last || last.base <= first.base) {
      const fresh: E[] = [];
      for (const a of sorted) {
        if (this.byId.has(a.id)) continue;
        this.byId.set(a.id, a);
        this.bytes += a.logBytes;
        this.group(a);
        fresh.push(a);
      }
      this.order = fresh.length === 0 ? this.order : this.order.length === 0 ? fresh : fresh.concat(this.order);
      this.sortedIds = undefined;
      return;
    }
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
        this.group(a);
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
    this.ungroup(e);
    return e;
  }

  /** Every entry, oldest first (a copy: the caller may await between entries). */
  inOrder(): E[] {
    return [...this.order];
  }

  /**
   * Remove the entries for which `remove` says true, oldest first; returns them. The walk ends at 'stop' or
   * once `max` entries went: what follows is kept by one copy, not entry by entry, so a caller pruning a
   * huge history in slices of a few thousand never walks it whole in one turn of the event loop.
   */
  removeWhere(remove: (e: E, totals: { count: number; logBytes: number }) => boolean | 'stop', max = Infinity): E[] {
    const removed: E[] = [];
    const kept: E[] = [];
    let i = 0;
    for (; i < this.order.length && removed.length < max; i++) {
      const e = this.order[i]!;
      const verdict = remove(e, { count: this.byId.size, logBytes: this.bytes });
      if (verdict === 'stop') break;
      if (verdict) {
        removed.push(e);
        this.byId.delete(e.id);
        this.bytes -= e.logBytes;
        this.ungroup(e);
      } else kept.push(e);
    }
    if (removed.length > 0) {
      this.order = kept.length === 0 ? this.order.slice(i) : kept.concat(this.order.slice(i));
      // Pruning one or two records after each run is the common case: keep the id order instead of rebuilding it.
      if (this.sortedIds && removed.length <= 16) for (const e of removed) this.sortedIds.splice(idLowerBound(this.sortedIds, e.id), 1);
      else this.sortedIds = undefined;
    }
    return removed;
  }

  /** How many entries are in a group (0 when none, or when no groups are kept). */
  groupSize(group: string): number {
    return this.groups.get(group)?.size ?? 0;
  }

  /** The entries of a group, newest first (sorted here: meant for groups far smaller than the index). */
  inGroup(group: string): E[] {
    const out: E[] = [];
    for (const id of this.groups.get(group) ?? []) out.push(this.byId.get(id)!);
    return out.sort((a, b) => (a.base < b.base ? 1 : a.base > b.base ? -1 : 0));
  }

  /** Newest first. */
  *newestFirst(): IterableIterator<E> {
    for (let i = this.order.length - 1; i >= 0; i--) yield this.order[i]!;
  }

  /**
   * Newest first (only entries whose base sorts below `belowBase`, when given) until `visit` returns false. A plain loop: a generator allocates a result per entry, and
   * 100,000 of them per history call set off collections (20 ms walks instead of 1-2 ms).
   */
  visitNewestFirst(visit: (e: E) => boolean, belowBase?: string): void {
    const from = belowBase === undefined ? this.order.length : this.lowerBound(belowBase);
    for (let i = from - 1; i >= 0; i--) if (!visit(this.order[i]!)) return;
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

  private group(e: E): void {
    if (!this.groupOf) return;
    const key = this.groupOf(e);
    let ids = this.groups.get(key);
    if (!ids) this.groups.set(key, (ids = new Set()));
    ids.add(e.id);
  }

  private ungroup(e: E): void {
    if (!this.groupOf) return;
    const key = this.groupOf(e);
    const ids = this.groups.get(key);
    ids?.delete(e.id);
    if (ids?.size === 0) this.groups.delete(key);
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
