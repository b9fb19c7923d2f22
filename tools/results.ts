// Shapes engine snapshots into MCP tool results: structuredContent for machines, a readable text for models.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Execution, ExecutionSnapshot } from '../src/processes/execution.js';
import { viewOf, type ExecutionView } from '../src/processes/execution-view.js';

export type ExecutionResult = ExecutionView;

export function describeOutcome(s: ExecutionSnapshot): string {
  const id = `execution ${s.id}`;
  if (s.state === 'running') return `${id} is running (pid ${s.pid}, pgid ${s.pgid}, ${s.durationMs} ms so far)`;
  if (s.state === 'paused') return `${id} is paused (pid ${s.pid}, pgid ${s.pgid})`;
  const how = s.signal ? `killed by ${s.signal}` : `exited with code ${s.exitCode}`;
  const stretched =
    s.terminationReason === 'timeout' && s.timeout.stretchedMs > 0 ? `, deadline stretched ${s.timeout.stretchedMs} ms by load` : '';
  const why = s.terminationReason ? ` (terminated: ${s.terminationReason}${stretched})` : '';
  return `${id} ${how}${why} after ${s.durationMs} ms`;
}

export function executionResult(execution: Execution): ExecutionResult {
  return viewOf(execution);
}

export function toCallToolResult(result: ExecutionResult, extra: Record<string, unknown> = {}): CallToolResult {
  const parts = [describeOutcome(result)];
  if (result.stdout) parts.push(`--- stdout (${result.stdoutBytes} bytes) ---\n${result.stdout}`);
  if (result.stderr) parts.push(`--- stderr (${result.stderrBytes} bytes) ---\n${result.stderr}`);
  for (const w of result.hookWarnings) parts.push(`hook warning: ${w}`);
  if (result.truncated) parts.push(`(output truncated inline; status with id ${result.id} and sinceSeq serves all of it)`);
  return { content: [{ type: 'text', text: parts.join('\n') }], structuredContent: { ...result, ...extra } };
}
