// IA32_APIC_BASE (MSR 0x1B) writes (SDM vol. 3A, "x2APIC State Transitions"): which values and mode changes are
// legal. Illegal ones raise #GP and change nothing.
import { ApicBaseBits } from './registers.js';

const TWO32 = 4294967296;

/**
 * May IA32_APIC_BASE go from `oldLo` to (newLo, newHi)? Reserved bits (0-7, 9, and the base above MAXPHYADDR)
 * must be clear; EXTD without EN is invalid; x2APIC -> xAPIC and disabled -> x2APIC must pass through the
 * other state; x2APIC needs CPUID support.
 */
export function apicBaseWriteAllowed(oldLo: number, newLo: number, newHi: number, physAddrBits: number, x2apicSupported: boolean): boolean {
  if ((newLo & 0x2ff) !== 0) return false;
  if ((newHi >>> 0) >= 2 ** (physAddrBits - 32) && physAddrBits < 64) return false;
  if (physAddrBits < 32 && (newLo >>> 0) >= 2 ** physAddrBits) return false;
  const oldEn = (oldLo & ApicBaseBits.EN) !== 0, oldX2 = oldEn && (oldLo & ApicBaseBits.EXTD) !== 0;
  const en = (newLo & ApicBaseBits.EN) !== 0, extd = (newLo & ApicBaseBits.EXTD) !== 0;
  if (extd && !en) return false;
  if (extd && !x2apicSupported) return false;
  if (oldX2 && en && !extd) return false; // x2APIC -> xAPIC
  if (!oldEn && en && extd) return false; // disabled -> x2APIC
  return true;
}

/** The base physical address an IA32_APIC_BASE value selects. */
export function apicBaseAddress(lo: number, hi: number): number {
  return (hi >>> 0) * TWO32 + ((lo & ApicBaseBits.BASE_LO) >>> 0);
}
