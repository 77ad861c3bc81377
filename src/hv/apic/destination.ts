// Which local APICs an interrupt message addresses (SDM vol. 3A, "Determining IPI Destination" and "Logical
// Destination Mode in x2APIC Mode"). Used for IPIs between VPs and for interrupts the root asserts.

/** What destination matching needs from a local APIC. */
export interface ApicIdentity {
  /** x2APIC mode (32-bit IDs, cluster logical mode) rather than xAPIC. */
  readonly x2apic: boolean;
  /** APIC ID: 8 bits in xAPIC mode, 32 in x2APIC mode. */
  readonly apicId: number;
  /** Logical destination register (xAPIC: bits 31:24; x2APIC: cluster 31:16, bit mask 15:0). */
  readonly logicalId: number;
  /** xAPIC destination format model (DFR bits 31:28): 0xF flat, 0x0 cluster. */
  readonly destinationModel: number;
}

/** Does `dest` (physical ID or logical MDA) in the given mode select this APIC? */
export function matchesDestination(a: ApicIdentity, dest: number, logical: boolean): boolean {
  if (a.x2apic) {
    if (!logical) return dest === -1 || (dest >>> 0) === (a.apicId >>> 0); // 0xFFFFFFFF: broadcast
    const cluster = dest >>> 16;
    if (cluster === 0xffff) return true;
    return cluster === (a.logicalId >>> 16) && (dest & a.logicalId & 0xffff) !== 0;
  }
  const d = dest & 0xff;
  if (!logical) return d === 0xff || d === (a.apicId & 0xff);
  if (d === 0xff) return true;
  const ldr = (a.logicalId >>> 24) & 0xff;
  if (a.destinationModel === 0xf) return (d & ldr) !== 0; // flat: 8-bit mask
  // Cluster model: high nibble is the cluster, low nibble a mask within it.
  return (d >> 4) === (ldr >> 4) && (d & ldr & 0xf) !== 0;
}
