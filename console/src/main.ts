// The console page: wires the MCP connection to the list, the machine panel, the terminal view and the controls.
import './zod-jitless.js';
import { Connection, endpointUrl, ToolError } from './connection.js';
import { mergeEntries, renderList } from './execution-list.js';
import { formatDuration, outcome, shortId, stateLabel } from './format.js';
import { renderMachine } from './machine-panel.js';
import './style.css';
import { TerminalInput } from './terminal-input.js';
import { TerminalView } from './terminal-view.js';
import type { ExecutionEntry, ExecutionStatus, StatusList } from './types.js';

/** Live list refresh: notifications say when executions start or end; this keeps durations and states fresh. */
const LIVE_POLL_MS = 1_000;
/** History refresh when nothing else asked for one. */
const HISTORY_POLL_MS = 10_000;
const HISTORY_LIMIT = 200;
const SEARCH_DEBOUNCE_MS = 250;

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing`);
  return node as T;
}

const ui = {
  connection: byId('connection'),
  machine: byId('machine'),
  sessions: byId('sessions'),
  list: byId('execution-list'),
  query: byId<HTMLInputElement>('query'),
  stateFilter: byId<HTMLSelectElement>('state-filter'),
  filters: byId<HTMLFormElement>('filters'),
  detail: byId('detail'),
  command: byId('detail-command'),
  facts: byId('detail-facts'),
  pause: byId<HTMLButtonElement>('pause'),
  resume: byId<HTMLButtonElement>('resume'),
  cancel: byId<HTMLButtonElement>('cancel'),
  kill: byId<HTMLButtonElement>('kill'),
  signalName: byId<HTMLSelectElement>('signal-name'),
  sendSignal: byId<HTMLButtonElement>('send-signal'),
  actionResult: byId('action-result'),
  earlier: byId<HTMLButtonElement>('earlier'),
  note: byId('terminal-note'),
  inputNote: byId('input-note'),
  follow: byId<HTMLInputElement>('follow'),
  terminal: byId('terminal'),
  killDialog: byId<HTMLDialogElement>('kill-dialog'),
  killCommand: byId('kill-command'),
};

const connection = new Connection(endpointUrl());
let live: ExecutionEntry[] = [];
let history: ExecutionEntry[] = [];
let selected: string | undefined;
let current: ExecutionStatus | undefined;
let liveIds = new Set<string>();

function render(): void {
  const entries = mergeEntries(live, history, { query: ui.query.value, state: ui.stateFilter.value });
  renderList(ui.list, entries, selected, (id) => void select(id));
}

async function refreshLive(): Promise<void> {
  if (!connection.connected) return;
  const list = await connection.call<StatusList>('status', { scope: 'all' });
  const ids = new Set(list.executions.map((e) => e.id));
  // One that left the live set has a final record now: history shows how it ended.
  const ended = [...liveIds].some((id) => !ids.has(id));
  liveIds = ids;
  live = list.executions;
  renderMachine(ui.machine, ui.sessions, list.server);
  render();
  if (ended) await refreshHistory();
}

async function refreshHistory(): Promise<void> {
  if (!connection.connected) return;
  const args: Record<string, unknown> = { scope: 'history', limit: HISTORY_LIMIT };
  if (ui.query.value.trim() !== '') args.query = ui.query.value.trim();
  if (ui.stateFilter.value !== '') args.state = ui.stateFilter.value;
  const list = await connection.call<StatusList>('status', args);
  history = list.executions;
  render();
}

function showFacts(s: ExecutionStatus): void {
  current = s;
  ui.command.textContent = s.command ?? (Array.isArray(s.argv) ? (s.argv as string[]).join(' ') : '');
  const rows: Array<[string, string]> = [
    ['State', stateLabel(s)],
    ['Id', s.id],
    ['Session', `${shortId(s.sessionId)}${s.transport ? ` (${s.transport})` : ''}`],
    ['Directory', s.cwd ?? '-'],
    ['Duration', formatDuration(s.durationMs)],
  ];
  if (s.pid) rows.push(['Process', `pid ${s.pid}, group ${s.pgid}`]);
  const how = outcome(s);
  if (how) rows.push(['Ended', how]);
  ui.facts.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  const running = s.state === 'running';
  const paused = s.state === 'paused';
  ui.pause.disabled = !running;
  ui.resume.disabled = !paused;
  ui.cancel.disabled = !(running || paused);
  // Kill also reaches members left behind after the leader exited.
  ui.kill.disabled = !(running || paused || s.groupAlive);
  ui.sendSignal.disabled = !(running || paused || s.groupAlive);
  // The list shows the same execution: keep its row in step without waiting for the next poll.
  const row = live.find((e) => e.id === s.id);
  if (row && row.state !== s.state) {
    Object.assign(row, { state: s.state, exitCode: s.exitCode, signal: s.signal, terminationReason: s.terminationReason });
    render();
  }
}

/** The size last asked of a PTY execution, so a refresh does not ask again. */
let ptyAsked = '';
let ptyTimer: ReturnType<typeof setTimeout> | undefined;

/** A PTY execution gets the view's size (debounced: a window drag is many resizes). */
function followSize(s: ExecutionStatus): void {
  if (!s.pty || !(s.state === 'running' || s.state === 'paused')) return;
  const { cols, rows } = terminal.term;
  const want = `${s.id}:${cols}x${rows}`;
  if ((s.pty.cols === cols && s.pty.rows === rows) || want === ptyAsked) return;
  clearTimeout(ptyTimer);
  ptyTimer = setTimeout(() => {
    ptyAsked = want;
    void connection.call('control', { id: s.id, action: 'resize', cols, rows }).catch(() => undefined);
  }, 300);
}

/** Typing goes to interactive executions while they run; the hint says how. */
function followInput(s: ExecutionStatus): void {
  const open = s.interactive === true && (s.state === 'running' || s.state === 'paused');
  input.setTarget(open ? { id: s.id, pty: Boolean(s.pty) } : undefined);
  terminal.acceptInput = open;
  // On a pipe a prompt may never show (bash prints `read -p` prompts only to a terminal): say that it waits.
  const waits = s.state === 'running' && s.waitingForInput === true ? 'The command waits for input. ' : '';
  ui.inputNote.textContent = open
    ? s.pty
      ? `${waits}Typing goes to the command (a terminal).`
      : `${waits}Typing goes to the command: Enter sends the line, Ctrl-D ends input, Ctrl-C interrupts.`
    : '';
}

const terminal = new TerminalView(ui.terminal, connection, {
  onStatus: (s) => {
    showFacts(s);
    followInput(s);
    followSize(s);
  },
  onInput: (data) => input.handle(data),
  onResize: () => {
    if (current) followSize(current);
  },
});
const input = new TerminalInput(
  connection,
  (text) => terminal.write(text),
  () => terminal.refresh(),
  (message) => (ui.actionResult.textContent = message),
);
terminal.onEarlierChange = (available) => (ui.earlier.hidden = !available);
terminal.onNote = (text) => (ui.note.textContent = text);

async function select(id: string): Promise<void> {
  selected = id;
  render();
  ui.detail.hidden = false;
  ui.actionResult.textContent = '';
  terminal.refit();
  try {
    await terminal.open(id);
  } catch (e) {
    ui.actionResult.textContent = e instanceof Error ? e.message : String(e);
  }
  // On a phone the detail sits below the list: bring it into view.
  if (window.matchMedia('(max-width: 899px)').matches) ui.detail.scrollIntoView({ block: 'start' });
}

async function control(action: string, extra: Record<string, unknown> = {}): Promise<void> {
  if (!current) return;
  ui.actionResult.textContent = `${action}…`;
  try {
    const r = await connection.call<ExecutionStatus & { action: string }>('control', { id: current.id, action, ...extra });
    ui.actionResult.textContent = `${action}: ${stateLabel(r)}${outcome(r) ? ` (${outcome(r)})` : ''}`;
    showFacts({ ...current, ...r, output: current.output });
  } catch (e) {
    ui.actionResult.textContent = e instanceof ToolError ? e.message : `${action} failed: ${String(e)}`;
  }
  terminal.refresh();
  await refreshLive().catch(() => undefined);
}

ui.pause.addEventListener('click', () => void control('pause'));
ui.resume.addEventListener('click', () => void control('resume'));
ui.cancel.addEventListener('click', () => void control('cancel'));
ui.sendSignal.addEventListener('click', () => void control('signal', { signal: ui.signalName.value }));
ui.kill.addEventListener('click', () => {
  ui.killCommand.textContent = current?.command ?? '';
  ui.killDialog.returnValue = '';
  ui.killDialog.showModal();
});
ui.killDialog.addEventListener('close', () => {
  if (ui.killDialog.returnValue === 'kill') void control('kill');
});
ui.earlier.addEventListener('click', () => void terminal.loadEarlier().catch((e: unknown) => (ui.note.textContent = String(e))));
ui.follow.addEventListener('change', () => {
  terminal.follow = ui.follow.checked;
  if (terminal.follow) terminal.term.scrollToBottom();
});

let searchTimer: ReturnType<typeof setTimeout> | undefined;
const onFilter = () => {
  render();
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => void refreshHistory().catch(() => undefined), SEARCH_DEBOUNCE_MS);
};
ui.query.addEventListener('input', onFilter);
ui.stateFilter.addEventListener('change', onFilter);
ui.filters.addEventListener('submit', (e) => {
  e.preventDefault();
  onFilter();
});

connection.onState = (state, detail) => {
  ui.connection.textContent = state === 'disconnected' ? `disconnected${detail ? `: ${detail}` : ''}; retrying` : state;
  ui.connection.dataset.state = state;
};
connection.onConnected = () => {
  void refreshLive().catch(() => undefined);
  void refreshHistory().catch(() => undefined);
  terminal.refresh();
};
connection.subscribe('cc-executor://executions', () => void refreshLive().catch(() => undefined));
setInterval(() => void refreshLive().catch(() => undefined), LIVE_POLL_MS);
setInterval(() => void refreshHistory().catch(() => undefined), HISTORY_POLL_MS);
connection.start();
