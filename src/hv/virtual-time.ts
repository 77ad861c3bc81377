// Virtual time. A VP's time-stamp counter advances with the instructions it retires, at a fixed nominal rate,
// so a guest sees the same clock on every run (deterministic tests) whatever the host's speed:
//   TSC = (instructions retired + instructions skipped while halted) * TSC_TICKS_PER_INSTRUCTION
// at a nominal VIRTUAL_TSC_HZ. "Skipped while halted" is where HLT fast-forward goes: when a halted VP's
// next wake-up is a timer, the hypervisor advances the skip counter to that deadline instead of waiting
// (no timers exist yet, so it stays 0). A wall-clock mode for interactive use can replace this later.

export const VIRTUAL_TSC_HZ = 1_000_000_000;
/** Nominal 100 M instructions per second. */
export const TSC_TICKS_PER_INSTRUCTION = 10;
/** HvCallDispatchVp time slices are in 100 ns units: this many instructions each. */
export const INSTRUCTIONS_PER_100NS = (VIRTUAL_TSC_HZ / 1e7) / TSC_TICKS_PER_INSTRUCTION;

const TWO32 = 4294967296;

/** Write a tick count (an exact integer below 2^53) as (lo, hi) int32 halves. */
export function ticksToPair(ticks: number, out: Int32Array): void {
  const hi = Math.floor(ticks / TWO32);
  out[0] = (ticks - hi * TWO32) | 0;
  out[1] = hi | 0;
}
