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

/**
 * Partition reference time (HV_X64_MSR_TIME_REF_COUNT, the reference TSC page) counts 100 ns units of this
 * same virtual clock: reference time = floor(TSC ticks / TSC_TICKS_PER_100NS).
 */
export const REFERENCE_TIME_HZ = 10_000_000;
export const TSC_TICKS_PER_100NS = VIRTUAL_TSC_HZ / REFERENCE_TIME_HZ;

/**
 * The local APIC timer's input clock, before its divide-configuration register. One constant for the APIC
 * timer and for HV_X64_MSR_APIC_FREQUENCY (which lets Linux skip LAPIC calibration: lapic_timer_period =
 * this / HZ), so the two cannot disagree. Equal to the TSC rate: one APIC tick per TSC tick.
 */
export const APIC_TIMER_HZ = VIRTUAL_TSC_HZ;

const TWO32 = 4294967296;

/** Write a tick count (an exact integer below 2^53) as (lo, hi) int32 halves. */
export function ticksToPair(ticks: number, out: Int32Array): void {
  const hi = Math.floor(ticks / TWO32);
  out[0] = (ticks - hi * TWO32) | 0;
  out[1] = hi | 0;
}
