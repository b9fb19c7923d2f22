// The executions list: live ones from every session first, then history (filtered by the search), as a list of buttons.
import { formatBytes, formatDuration, outcome, shortId, stateLabel } from './format.js';
import type { ExecutionEntry } from './types.js';

/** Merge live executions (fresh) over history records (may lag), newest first, live ones on top. */
export function mergeEntries(
  live: ExecutionEntry[],
  history: ExecutionEntry[],
  filter: { query: string; state: string },
): ExecutionEntry[] {
  const q = filter.query.trim().toLowerCase();
  const matches = (e: ExecutionEntry) =>
    (q === '' || e.command.toLowerCase().includes(q)) && (filter.state === '' || e.state === filter.state);
  const byId = new Map<string, ExecutionEntry>();
  for (const e of history) byId.set(e.id, e);
  for (const e of live) byId.set(e.id, { ...byId.get(e.id), ...e });
  const isLive = (e: ExecutionEntry) => e.state === 'running' || e.state === 'paused';
  return [...byId.values()].filter(matches).sort((a, b) => Number(isLive(b)) - Number(isLive(a)) || b.startedAt.localeCompare(a.startedAt));
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Facts on one line: session and transport, cwd, duration, outcome, usage where known. */
function factsLine(e: ExecutionEntry): string {
  const parts: string[] = [];
  if (e.sessionId) parts.push(`session ${shortId(e.sessionId)}${e.transport ? ` (${e.transport})` : ''}`);
  if (e.background) parts.push('background');
  if (e.cwd) parts.push(e.cwd);
  parts.push(formatDuration(e.durationMs));
  const how = outcome(e);
  if (how) parts.push(how);
  if (e.usage?.cpuMs != null) parts.push(`cpu ${formatDuration(e.usage.cpuMs)}`);
  const memory = e.usage?.memoryBytes ?? e.usage?.memoryPeakBytes;
  if (memory != null) parts.push(`mem ${formatBytes(memory)}`);
  return parts.join(' · ');
}

/**
 * Render `entries` into `list`, marking `selected`. Rows are reused by id (only their text changes), so a
 * refresh never swaps a button out from under a click or the keyboard focus.
 */
export function renderList(
  list: HTMLElement,
  entries: ExecutionEntry[],
  selected: string | undefined,
  onSelect: (id: string) => void,
): void {
  const old = new Map<string, HTMLLIElement>();
  for (const li of list.querySelectorAll<HTMLLIElement>('li[data-id]')) old.set(li.dataset.id!, li);
  const items = entries.map((e) => {
    let li = old.get(e.id);
    if (!li) {
      li = el('li', '');
      li.dataset.id = e.id;
      const button = el('button', 'row');
      button.type = 'button';
      button.append(el('span', 'state'), el('code', 'cmd'), el('span', 'facts-line'));
      button.addEventListener('click', () => onSelect(e.id));
      li.append(button);
    }
    const button = li.firstElementChild as HTMLButtonElement;
    const [state, command, facts] = [...button.children] as HTMLElement[];
    const label = stateLabel(e);
    button.setAttribute('aria-pressed', String(e.id === selected));
    setText(state!, label);
    state!.className = `state state-${label.replace(/\s+/g, '-')}`;
    setText(command!, e.command || '(argv)');
    setText(facts!, factsLine(e));
    return li;
  });
  if (items.length === 0) items.push(el('li', 'empty', 'No executions match.'));
  const same = items.length === list.children.length && items.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...items);
}

function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
