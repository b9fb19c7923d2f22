// Shapes engine snapshots into MCP tool results: structuredContent for machines, a readable text for models.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Execution, ExecutionSnapshot } from '../src/processes/execution.js';
import { viewOf, type ExecutionView } from '../src/processes/execution-view.js';

export type ExecutionResult = ExecutionView & {
  /** While waiting for input: the last line printed (the prompt), else null. */
  prompt: string | null;
};

export function describeOutcome(s: ExecutionSnapshot): string {
  const id = `execution ${s.id}`;
  if (s.state === 'running' && s.waitingForInput) return `${id} is waiting for input (pid ${s.pid}, ${s.durationMs} ms so far)`;
  if (s.state === 'running') return `${id} is running (pid ${s.pid}, pgid ${s.pgid}, ${s.durationMs} ms so far)`;
  if (s.state === 'paused') return `${id} is paused (pid ${s.pid}, pgid ${s.pgid})`;
  const how = s.signal ? `killed by ${s.signal}` : `exited with code ${s.exitCode}`;
  const stretched =
    s.terminationReason === 'timeout' && s.timeout.stretchedMs > 0 ? `, deadline stretched ${s.timeout.stretchedMs} ms by load` : '';
  const why = s.terminationReason ? ` (terminated: ${s.terminationReason}${stretched})` : '';
  return `${id} ${how}${why} after ${s.durationMs} ms`;
}

export function executionResult(execution: Execution): ExecutionResult {
  const view = viewOf(execution);
  return { ...view, prompt: view.waitingForInput ? execution.log.lastLine() : null };
}

export function toCallToolResult(result: ExecutionResult, extra: Record<string, unknown> = {}): CallToolResult {
  const parts = [describeOutcome(result)];
  if (result.stdout) parts.push(`--- stdout (${result.stdoutBytes} bytes) ---\n${result.stdout}`);
  if (result.stderr) parts.push(`--- stderr (${result.stderrBytes} bytes) ---\n${result.stderr}`);
  for (const w of result.hookWarnings) parts.push(`hook warning: ${w}`);
  if (result.truncated)
    parts.push(
      `(output cut inline: each marker names the status call that reads its lines; status {"id": ${JSON.stringify(result.id)}, "grep": "..."} searches all of it)`,
    );
  const next = nextStep(result);
  if (next) parts.push(next);
  return { content: [{ type: 'text', text: parts.join('\n') }], structuredContent: { ...result, ...extra } };
}

/** What to call next for an execution that has not finished: the text names the tool and its arguments. */
export function nextStep(s: ExecutionSnapshot & { prompt?: string | null }): string | null {
  if (s.state === 'exited') return null;
  const id = JSON.stringify(s.id);
  if (s.waitingForInput) {
    const shown = s.prompt ? ` at ${JSON.stringify(s.prompt)}` : '';
    const keys = s.pty ? ' ("\\u0003" is Ctrl-C, "\\u0004" Ctrl-D)' : '';
    return `waiting for input${shown}: answer with write_stdin {"id": ${id}, "data": "...\\n"}${keys}, or close stdin with {"id": ${id}, "eof": true}`;
  }
  const input = s.interactive ? `; send input with write_stdin {"id": ${id}, "data": "..."}` : '';
  return `still running: follow with status {"id": ${id}, "sinceSeq": ${s.lastSeq}}${input}; stop it with control {"id": ${id}, "action": "cancel"}`;
}
