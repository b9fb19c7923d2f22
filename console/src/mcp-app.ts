// The MCP App of an `execute` result: the terminal view of that one execution, inside a host (Claude, VS Code...).
import { App } from '@modelcontextprotocol/ext-apps';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import './mcp-app.css';
import type { ExecutionStatus, OutputChunk } from './types.js';

/** Output per status read, and what the view starts with (the tail). */
const WINDOW_BYTES = 256 * 1024;
/** How often a running execution is read again (the host proxies each read to the server). */
const POLL_MS = 1_000;
const TAIL = Number.MAX_SAFE_INTEGER;
const STDERR_ON = '\x1b[31m';
const STDERR_OFF = '\x1b[39m';

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing`);
  return node;
}

const ui = { command: byId('app-command'), state: byId('app-state'), terminal: byId('app-terminal') };
const term = new Terminal({
  screenReaderMode: true,
  convertEol: true,
  scrollback: 20_000,
  rows: 18,
  fontSize: 13,
  fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace',
  theme: { background: '#111418' },
  disableStdin: true,
});
term.open(ui.terminal);

const app = new App({ name: 'cc-executor terminal', version: '1' });
/** The execution shown (the first result's id); later results of other calls are ignored. */
let shown: string | undefined;
let cursor = 0;

function render(chunks: OutputChunk[]): string {
  let out = '';
  for (const c of chunks) out += c.stream === 'stderr' ? `${STDERR_ON}${c.data}${STDERR_OFF}` : c.data;
  return out;
}

function showState(s: ExecutionStatus): void {
  ui.command.textContent = s.command ?? (Array.isArray(s.argv) ? (s.argv as string[]).join(' ') : '');
  const how = s.signal ? `killed by ${s.signal}` : s.exitCode !== null && s.exitCode !== undefined ? `exit ${s.exitCode}` : '';
  const label = s.state === 'running' && s.waitingForInput === true ? 'waiting for input' : s.state === 'exited' ? 'finished' : s.state;
  ui.state.textContent = [label, how, s.terminationReason ?? ''].filter(Boolean).join(' · ');
  ui.state.dataset.state = s.state;
}

async function status(args: Record<string, unknown>): Promise<ExecutionStatus> {
  const r = await app.callServerTool({ name: 'status', arguments: args });
  if (r.isError) throw new Error(r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n') || 'status failed');
  return r.structuredContent as unknown as ExecutionStatus;
}

/** The tail first, then forward by cursor while it runs. */
async function follow(id: string): Promise<void> {
  const first = await status({ id, beforeSeq: TAIL, maxBytes: WINDOW_BYTES });
  term.write(render(first.output.chunks));
  cursor = first.output.nextSeq;
  showState(first);
  let live = first.state === 'running' || first.state === 'paused';
  while (live) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const s = await status({ id, sinceSeq: cursor, maxBytes: WINDOW_BYTES });
    term.write(render(s.output.chunks));
    cursor = s.output.nextSeq;
    showState(s);
    live = s.state === 'running' || s.state === 'paused' || s.output.more;
  }
}

app.ontoolinput = ({ arguments: args }) => {
  const command = args?.command;
  if (typeof command === 'string' && ui.command.textContent === '') ui.command.textContent = command;
};
app.ontoolresult = (result) => {
  const s = result.structuredContent;
  if (result.isError || typeof s?.id !== 'string') {
    ui.state.textContent = 'the command did not start';
    return;
  }
  if (shown !== undefined) return;
  shown = s.id;
  ui.state.textContent = 'loading output…';
  follow(s.id).catch((e: unknown) => (ui.state.textContent = `cannot read the output: ${e instanceof Error ? e.message : String(e)}`));
};

void app.connect().then(
  () => (ui.state.textContent = 'waiting for the result…'),
  (e: unknown) => (ui.state.textContent = `no host: ${e instanceof Error ? e.message : String(e)}`),
);
