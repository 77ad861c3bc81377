// Delivering an interrupt message to the local APICs of a partition: IPIs from one VP's ICR and interrupts the
// root asserts (HvCallAssertVirtualInterrupt). Destination matching is in destination.ts.
import { matchesDestination } from './destination.js';
import type { LocalApic } from './local-apic.js';
import { DeliveryMode, Shorthand } from './registers.js';

/** Anything holding a local APIC (the partition's VPs). */
export interface HasApic { readonly apic: LocalApic }

/**
 * Deliver (mode, vector, level) to the APICs `dest`/`logical`/`shorthand` select among `targets`; `source` is
 * the sending APIC for IPIs (null for interrupts from the root). Lowest-priority messages go to one APIC (the
 * first that matches). Returns how many APICs received it.
 */
export function routeInterrupt(
  targets: readonly (HasApic | undefined)[], source: LocalApic | null, mode: number, vector: number, level: boolean,
  dest: number, logical: boolean, shorthand: number,
): number {
  let n = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t === undefined) continue;
    const a = t.apic;
    const self = a === source;
    let hit: boolean;
    switch (shorthand) {
      case Shorthand.SELF: hit = self; break;
      case Shorthand.ALL: hit = true; break;
      case Shorthand.OTHERS: hit = !self; break;
      default: hit = a.enabled && matchesDestination(a, dest, logical);
    }
    if (!hit) continue;
    a.deliver(mode, vector, level);
    n++;
    if (mode === DeliveryMode.LOWEST) break;
  }
  return n;
}
