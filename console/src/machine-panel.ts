// The machine panel: load and timeout multiplier, sessions, executions, and whatever containment/sandbox facts status offers.
import { formatDuration, shortId } from './format.js';
import type { ServerFacts } from './types.js';

function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? 'n/a' : `${Math.round(v)}%`;
}

/** A value status adds later (containment, sandbox...) shown without knowing its shape. */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'off';
  if (typeof v === 'string') return v;
  if (typeof v !== 'object') return JSON.stringify(v);
  return Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined && x !== null && typeof x !== 'object')
    .map(([k, x]) => `${k}: ${String(x)}`)
    .join(', ');
}

export function renderMachine(dl: HTMLElement, sessions: HTMLElement, s: ServerFacts): void {
  const rows: Array<[string, string]> = [
    ['CPU', percent(s.load.cpu)],
    ['GPU', s.load.gpu === null ? 'none' : percent(s.load.gpu)],
    ['Timeout multiplier', `×${s.load.multiplier}`],
    ['Running', `${s.executions.running} running, ${s.executions.paused} paused, ${s.executions.background} background`],
    ['Sessions', String(s.sessions)],
  ];
  for (const key of ['containment', 'sandbox', 'backend']) {
    if (key in s) rows.push([key[0]!.toUpperCase() + key.slice(1), describeValue(s[key])]);
  }
  rows.push(['Server', `${s.version}, up ${formatDuration(s.uptimeSeconds * 1000)}`]);
  dl.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  sessions.replaceChildren(
    ...(s.sessionList ?? []).map((x) => {
      const li = document.createElement('li');
      const self = x.id === s.session.id ? ' (this page)' : '';
      li.textContent = `${shortId(x.id)} ${x.transport}${self}: ${x.running} running, idle ${formatDuration(x.idleMs)}`;
      return li;
    }),
  );
}
