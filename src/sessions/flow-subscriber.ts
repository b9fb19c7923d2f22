// Base of the output subscribers that send to one session: full and drained follow the session's FlowMeter.
import type { OutputChunk, OutputLog, OutputSubscriber } from '../processes/output-log.js';
import type { FlowMeter } from './flow-meter.js';

export abstract class FlowSubscriber implements OutputSubscriber {
  protected unsubscribe: (() => void) | undefined;

  constructor(protected readonly flow: FlowMeter) {}

  /** Replay what the log still holds, then follow it. */
  attach(log: OutputLog): void {
    this.unsubscribe = log.follow(this);
  }

  /** While the session has too much unsent, the execution stops reading the child's pipes. */
  get full(): boolean {
    return this.flow.full;
  }

  drained(): Promise<void> {
    return this.flow.drained();
  }

  abstract write(chunk: OutputChunk): void;
}
