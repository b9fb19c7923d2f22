// Text shapes of the client: durations, one-line execution states, and the executions table fitted to a width.

/** Human duration: 850ms, 12.3s, 4m05s, 2h03m. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3_600)}h${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')}m`;
}

/** A command on one line: control characters (newlines in a script...) must not break a table row. */
export function oneLine(text: string): string {
  const escaped = text.replace(/\r?\n/g, '\\n').replace(/\t/g, ' ');
  // eslint-disable-next-line no-control-regex
  return escaped.replace(/[\x00-\x1f\x7f]/g, '?');
}

export interface ExecutionSummary {
  id: string;
  state: string;
  exitCode: number | null;
  signal: string | null;
  terminationReason: string | null;
  durationMs: number;
  command?: string | null;
  argv?: string[] | null;
  pid?: number;
}

export function commandOf(e: ExecutionSummary): string {
  return e.command ?? e.argv?.join(' ') ?? '';
}

/** "exited with code 3 after 1.2s", "killed by SIGTERM (cancel) after 4.0s", "running for 12.3s (pid 4242)". */
export function describeState(e: ExecutionSummary): string {
  if (e.state === 'running') return `running for ${formatDuration(e.durationMs)}${e.pid ? ` (pid ${e.pid})` : ''}`;
  if (e.state === 'paused') return `paused, ${formatDuration(e.durationMs)} since start${e.pid ? ` (pid ${e.pid})` : ''}`;
  const how = e.signal ? `killed by ${e.signal}` : `exited with code ${String(e.exitCode)}`;
  const why = e.terminationReason ? ` (${e.terminationReason})` : '';
  return `${how}${why} after ${formatDuration(e.durationMs)}`;
}

const GAP = '  ';
const MIN_COMMAND_COLUMNS = 10;

/** ID, STATE, EXIT, DURATION, COMMAND; the command is cut with "…" to fit `width` (undefined: never cut). */
export function renderTable(rows: ExecutionSummary[], width: number | undefined): string {
  const cells = rows.map((e) => [
    e.id.slice(0, 8),
    e.state,
    e.state === 'exited' ? (e.signal ?? String(e.exitCode)) : '-',
    formatDuration(e.durationMs),
    oneLine(commandOf(e)),
  ]);
  const header = ['ID', 'STATE', 'EXIT', 'DURATION', 'COMMAND'];
  const widths = header.slice(0, 4).map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const fixed = widths.reduce((a, b) => a + b, 0) + GAP.length * widths.length;
  const room = width === undefined ? undefined : Math.max(MIN_COMMAND_COLUMNS, width - fixed);
  const line = (c: string[]) => {
    const left = c.slice(0, 4).map((v, i) => (i === 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)));
    let cmd = c[4]!;
    if (room !== undefined && [...cmd].length > room) cmd = `${[...cmd].slice(0, room - 1).join('')}…`;
    return `${left.join(GAP)}${GAP}${cmd}`.trimEnd();
  };
  return [line(header), ...cells.map(line)].join('\n');
}
