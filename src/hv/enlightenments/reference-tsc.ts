// Partition reference time and the reference TSC page (TLFS "Partition Reference Time Enlightenment";
// layout struct ms_hyperv_tsc_page in Linux include/asm-generic/hyperv-tlfs.h).
//
// Reference time counts 100 ns units of the VP's virtual clock: floor(TSC ticks / TSC_TICKS_PER_100NS).
// The page lets the guest compute the same count without an exit, as Linux's hv_read_tsc_page does:
//   ReferenceTime = ((RDTSC() * TscScale) >> 64) + TscOffset
// With scale = ceil(2^64 * 10^7 / TSC Hz) and offset 0, the page's value equals the MSR's exactly as long as
// ticks * (scale - 2^64 * 10^7 / Hz) / 2^64 stays below the smallest fractional gap (1 / TSC_TICKS_PER_100NS),
// i.e. for the first 2^64 / 100 ticks at 1 GHz (over 5 years of virtual time). Rounding the scale down instead
// would make the page read one less than the MSR at every exact multiple of 100 ticks.
import { REFERENCE_TIME_HZ, TSC_TICKS_PER_100NS, TSC_TICKS_PER_INSTRUCTION, VIRTUAL_TSC_HZ } from '../virtual-time.js';

/** Byte offsets in the page. */
export const TscPageLayout = { sequence: 0, scale: 8, offset: 16, SIZE: 24 } as const;

/** tsc_sequence 0 means "the page is not valid: read the MSR" (Linux hyperv_timer.h; the TLFS once said -1). */
export const TSC_SEQUENCE_INVALID = 0;

/** 64.64 fixed-point TSC ticks -> 100 ns units, rounded up (see above). Not on a hot path. */
export function referenceTscScale(tscHz = VIRTUAL_TSC_HZ): bigint {
  const num = BigInt(REFERENCE_TIME_HZ) << 64n;
  const hz = BigInt(tscHz);
  return (num + hz - 1n) / hz;
}

/** Reference time in 100 ns units after `instructions` of virtual time (retired + skipped while halted). */
export function referenceTime(instructions: number): number {
  return Math.floor((instructions * TSC_TICKS_PER_INSTRUCTION) / TSC_TICKS_PER_100NS);
}

/** The next valid sequence number after `seq` (never 0, nor 0xFFFFFFFF, which old TLFS versions called invalid). */
export function nextTscSequence(seq: number): number {
  let n = (seq + 1) >>> 0;
  if (n === 0xffffffff) n = 1;
  if (n === 0) n = 1;
  return n;
}
