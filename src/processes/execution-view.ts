// The one builder of "snapshot + inline output" that results, records, hooks, resources and legacy all show.
import type { Execution, ExecutionSnapshot } from './execution.js';

/** A snapshot with the inline head + tail of each stream. `truncated`: some output is not inline (status serves it). */
export type ExecutionView = ExecutionSnapshot & {
  stdout: string;
  stderr: string;
  truncated: boolean;
};

/** The execution as every reader shows it: its snapshot plus inline output. */
export function viewOf(execution: Execution): ExecutionView {
  // A retired execution's inline output is its record's (one read for both streams).
  const saved = execution.log.savedText();
  if (saved) return { ...execution.snapshot(), ...saved };
  const stdout = execution.log.inlineOutput('stdout');
  const stderr = execution.log.inlineOutput('stderr');
  return { ...execution.snapshot(), stdout: stdout.text, stderr: stderr.text, truncated: stdout.truncated || stderr.truncated };
}
