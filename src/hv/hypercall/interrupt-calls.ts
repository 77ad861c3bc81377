// HvCallAssertVirtualInterrupt: the root raises an interrupt in a child, as its emulated devices (the IOAPIC)
// do. The hypervisor delivers it to the local APIC(s) the destination selects; level-triggered vectors come
// back to the root as HvMessageTypeX64ApicEoi when the guest EOIs them.
import { HvStatus } from './codes.js';
import { AssertInterruptIn, HvInterruptType, InterruptControlFlags } from './layouts.js';
import { childPartition } from './targets.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';
import { PartitionState } from '../partition.js';
import { routeInterrupt, Shorthand } from '../apic/index.js';

export function assertVirtualInterrupt(hv: Hypervisor, caller: Partition, inOff: number): number {
  const p = childPartition(hv, caller, inOff + AssertInterruptIn.partitionId);
  if (typeof p === 'number') return p;
  if (p.state !== PartitionState.INITIALIZED) return HvStatus.INVALID_PARTITION_STATE;
  const dv = hv.memory.view;
  const type = dv.getUint32(inOff + AssertInterruptIn.interruptType, true);
  const flags = dv.getUint32(inOff + AssertInterruptIn.controlFlags, true);
  const dest = dv.getUint32(inOff + AssertInterruptIn.destination, true);
  const destHi = dv.getUint32(inOff + AssertInterruptIn.destination + 4, true);
  const vector = dv.getUint32(inOff + AssertInterruptIn.vector, true);
  if ((flags & ~InterruptControlFlags.MASK) !== 0 || destHi !== 0 || vector > 0xff) return HvStatus.INVALID_PARAMETER;
  if (dv.getUint32(inOff + AssertInterruptIn.targetVtl, true) !== 0) return HvStatus.INVALID_PARAMETER; // VTL 0, reserved 0
  if (type !== HvInterruptType.FIXED && type !== HvInterruptType.LOWEST_PRIORITY && type !== HvInterruptType.NMI) {
    return HvStatus.INVALID_PARAMETER; // SMI, INIT, SIPI, ExtINT, LINTn: not modelled
  }
  // An interrupt no APIC accepts is lost, as on hardware: not an error.
  routeInterrupt(p.vps, null, type, vector, (flags & InterruptControlFlags.LEVEL_TRIGGERED) !== 0, dest,
    (flags & InterruptControlFlags.LOGICAL_DEST) !== 0, Shorthand.NONE);
  return HvStatus.SUCCESS;
}
