// The deterministic workload of the crash test, shared by the writer process and the verifier.
import { randomWrites, Rng, type Extent } from './helpers.js';

export const CRASH_BLOCK = 1024 * 1024;

/** A step of an iteration: a write, or a discard of one whole block (which then reads as zeros). */
export interface Step extends Extent { discard: boolean }

/**
 * The steps of iteration k, reproducible from (seed, k): a few random writes and, every other iteration, the
 * discard of a block, so nearly every flush commits BAT changes through the log.
 */
export function iterationSteps(seed: number, k: number, capacity: number): Step[] {
  const rng = new Rng((seed * 1000003 + k * 7919) >>> 0);
  const steps: Step[] = randomWrites(rng, capacity, 1 + rng.int(6), 128 * 1024).map((w) => ({ ...w, discard: false }));
  if (rng.int(2) === 0) {
    const block = rng.int(capacity / CRASH_BLOCK);
    steps.splice(rng.int(steps.length + 1), 0, { offset: block * CRASH_BLOCK, data: Buffer.alloc(CRASH_BLOCK), discard: true });
  }
  return steps;
}
