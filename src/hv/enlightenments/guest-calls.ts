// Hypercalls a guest partition may make through its hypercall page (beyond refusals). HvCallPostMessage and
// HvCallSignalEvent are the SynIC's (src/hv/synic/connections.ts); codes nothing implements get
// HV_STATUS_INVALID_HYPERCALL_CODE, which Linux expects for unknown codes.
import { HvStatus } from '../hypercall/codes.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';

/**
 * HvCallNotifyLongSpinWait (0x0008): {u64 spin count}. A hint that the caller spun a long time on a lock;
 * VPs here run one at a time on one thread, so there is nothing to reschedule and the call just succeeds.
 */
export function notifyLongSpinWait(): number {
  return HvStatus.SUCCESS;
}

/** HvCallGetPartitionId (0x0046): output {u64 partition id} of the caller (needs AccessPartitionId). */
export function getPartitionId(hv: Hypervisor, caller: Partition, _inOff: number, outOff: number): number {
  const dv = hv.memory.view;
  dv.setUint32(outOff, caller.id >>> 0, true);
  dv.setUint32(outOff + 4, 0, true);
  return HvStatus.SUCCESS;
}
