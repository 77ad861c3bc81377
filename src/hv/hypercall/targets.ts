// Resolving the partition and VP a hypercall names, with the TLFS status for each way that can fail.
import { HvStatus } from './codes.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';
import { PartitionState } from '../partition.js';
import type { VirtualProcessor } from '../virtual-processor.js';

/**
 * The partition named by the u64 at `off`, which must be a child of the caller (the root manages the
 * partitions it created; nothing manages itself or a sibling). A status number when it is not.
 */
export function childPartition(hv: Hypervisor, caller: Partition, off: number): Partition | number {
  const dv = hv.memory.view;
  const lo = dv.getUint32(off, true), hi = dv.getUint32(off + 4, true);
  if (hi !== 0) return HvStatus.INVALID_PARTITION_ID; // includes HV_PARTITION_ID_SELF
  const p = hv.partitions.get(lo);
  if (p === undefined || p.state === PartitionState.DELETED) return HvStatus.INVALID_PARTITION_ID;
  if (p.parent !== caller) return HvStatus.ACCESS_DENIED;
  return p;
}

/** The VP with the u32 index at `off` in partition `p`, or a status. */
export function vpOf(hv: Hypervisor, p: Partition, off: number): VirtualProcessor | number {
  const index = hv.memory.view.getUint32(off, true);
  const vp = index < p.vps.length ? p.vps[index] : undefined;
  return vp === undefined ? HvStatus.INVALID_VP_INDEX : vp;
}
