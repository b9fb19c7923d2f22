// Times several operations in turn, rotating their order each round, so no kind always runs right after another.
import { performance } from 'node:perf_hooks';

/**
 * Runs each operation `warmup + n` times, one round at a time, every round starting one kind later than the
 * one before; returns the `n` timed durations (ms) of each, by name (warm-up rounds are run, not kept).
 */
export async function timeRotated(
  ops: Record<string, () => Promise<void>>,
  opts: { n: number; warmup: number },
): Promise<Record<string, number[]>> {
  const names = Object.keys(ops);
  const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
  for (let i = 0; i < opts.warmup + opts.n; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length]!;
      const t0 = performance.now();
      await ops[name]!();
      if (i >= opts.warmup) times[name]!.push(performance.now() - t0);
    }
  }
  return times;
}
