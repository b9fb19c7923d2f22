// A reader that is slow in bursts: it reads for readMs, then does something else for pausedMs, until stopped.

/** Milliseconds reading, then milliseconds paused, over and over. */
export interface BurstCycle {
  readMs: number;
  pausedMs: number;
}

/** What `readInBursts` returns: how often it paused, and how to stop (the stream is left as it is). */
export interface Bursts {
  readonly pauses: number;
  stop(): void;
}

/** Pause and resume `stream` in `cycle`, starting with a read phase, until `stop()`. */
export function readInBursts(stream: { pause(): unknown; resume(): unknown }, cycle: BurstCycle): Bursts {
  let pauses = 0;
  let timer: NodeJS.Timeout;
  const readPhase = () => {
    stream.resume();
    timer = setTimeout(pausePhase, cycle.readMs);
  };
  const pausePhase = () => {
    pauses++;
    stream.pause();
    timer = setTimeout(readPhase, cycle.pausedMs);
  };
  timer = setTimeout(pausePhase, cycle.readMs);
  return {
    get pauses() {
      return pauses;
    },
    stop: () => clearTimeout(timer),
  };
}
