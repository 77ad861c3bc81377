// The SLAT calls: HvCallMapGpaPages, HvCallUnmapGpaPages, HvCallFlushGuestPhysicalAddressList.
// A caller maps only pages of its own GPA space (validated through its own map), so a child can be given no
// page the root does not own, and the hypervisor's pages are in no partition's map at all.
import { HvStatus } from './codes.js';
import { FlushGpaListIn, MapGpaFlags, MapGpaPagesIn, UnmapGpaPagesIn } from './layouts.js';
import { childPartition } from './targets.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';
import { PartitionState } from '../partition.js';
import { GPA_EXEC, GPA_READ, GPA_WRITE } from '../../vp/index.js';

const REP = 0x10000;

/** Map flags -> SLAT rights, or -1 for flags this hypervisor does not support. */
function rightsOf(flags: number): number {
  if ((flags & ~MapGpaFlags.PERMISSIONS_MASK) !== 0) return -1;
  if ((flags & MapGpaFlags.WRITABLE) !== 0 && (flags & MapGpaFlags.READABLE) === 0) return -1; // no write-only pages on x64
  return ((flags & MapGpaFlags.READABLE) !== 0 ? GPA_READ : 0) | ((flags & MapGpaFlags.WRITABLE) !== 0 ? GPA_WRITE : 0)
    | ((flags & MapGpaFlags.EXECUTABLE) !== 0 ? GPA_EXEC : 0);
}

export function mapGpaPages(hv: Hypervisor, caller: Partition, inOff: number, _outOff: number, repCount: number, repStart: number): number {
  const target = childPartition(hv, caller, inOff + MapGpaPagesIn.targetPartitionId);
  if (typeof target === 'number') return target + repStart * REP;
  if (target.state !== PartitionState.CREATED && target.state !== PartitionState.INITIALIZED) return HvStatus.INVALID_PARTITION_STATE + repStart * REP;
  const dv = hv.memory.view;
  const baseLo = dv.getUint32(inOff + MapGpaPagesIn.targetGpaBase, true);
  const baseHi = dv.getUint32(inOff + MapGpaPagesIn.targetGpaBase + 4, true);
  const rights = rightsOf(dv.getUint32(inOff + MapGpaPagesIn.mapFlags, true));
  if (rights < 0) return HvStatus.INVALID_PARAMETER + repStart * REP;
  const map = target.map;
  if (baseHi !== 0 || baseLo + repCount > map.pageCount) return HvStatus.INVALID_PARAMETER + repStart * REP;
  const src = caller.map;
  let i = repStart;
  let status: number = HvStatus.SUCCESS;
  for (; i < repCount; i++) {
    const e = inOff + MapGpaPagesIn.SIZE + i * MapGpaPagesIn.REP_SIZE;
    const srcLo = dv.getUint32(e, true), srcHi = dv.getUint32(e + 4, true);
    if (srcHi !== 0 || !src.isMapped(srcLo)) { status = HvStatus.INVALID_PARAMETER; break; }
    const gpaPage = baseLo + i;
    if (map.isMapped(gpaPage)) { status = HvStatus.INVALID_PARAMETER; break; }
    const spa = src.spaPage[srcLo];
    map.map(gpaPage, spa, rights);
    hv.noteChildMapping(spa, 1);
  }
  if (i > repStart) target.invalidate(baseLo + repStart, i - repStart);
  return status + i * REP;
}

export function unmapGpaPages(hv: Hypervisor, caller: Partition, inOff: number, _outOff: number, repCount: number, repStart: number): number {
  const target = childPartition(hv, caller, inOff + UnmapGpaPagesIn.targetPartitionId);
  if (typeof target === 'number') return target + repStart * REP;
  const dv = hv.memory.view;
  const baseLo = dv.getUint32(inOff + UnmapGpaPagesIn.targetGpaBase, true);
  const baseHi = dv.getUint32(inOff + UnmapGpaPagesIn.targetGpaBase + 4, true);
  if (dv.getUint32(inOff + UnmapGpaPagesIn.unmapFlags, true) !== 0) return HvStatus.INVALID_PARAMETER + repStart * REP;
  const map = target.map;
  if (baseHi !== 0 || baseLo + repCount > map.pageCount) return HvStatus.INVALID_PARAMETER + repStart * REP;
  for (let i = repStart; i < repCount; i++) {
    const spa = map.unmap(baseLo + i);
    if (spa >= 0) hv.noteChildMapping(spa, -1);
  }
  target.invalidate(baseLo + repStart, repCount - repStart);
  return HvStatus.SUCCESS;
}

export function flushGpaList(hv: Hypervisor, caller: Partition, inOff: number, _outOff: number, repCount: number, repStart: number): number {
  const target = childPartition(hv, caller, inOff + FlushGpaListIn.addressSpace);
  if (typeof target === 'number') return target + repStart * REP;
  const dv = hv.memory.view;
  if (dv.getUint32(inOff + FlushGpaListIn.flags, true) !== 0 || dv.getUint32(inOff + FlushGpaListIn.flags + 4, true) !== 0) {
    return HvStatus.INVALID_PARAMETER + repStart * REP;
  }
  const limit = target.map.pageCount;
  for (let i = repStart; i < repCount; i++) {
    const e = inOff + FlushGpaListIn.SIZE + i * FlushGpaListIn.REP_SIZE;
    const lo = dv.getUint32(e, true), hi = dv.getUint32(e + 4, true);
    // HV_GPA_PAGE_RANGE: additional pages in bits 0..10, large-page unit in bit 11, base page in 12..63.
    const large = (lo & 0x800) !== 0;
    let count = (lo & 0x7ff) + 1;
    let base = (lo >>> 12) + hi * 0x100000;
    if (large) { base *= 512; count *= 512; }
    if (base >= limit) return HvStatus.INVALID_PARAMETER + i * REP;
    target.invalidate(base, Math.min(count, limit - base));
  }
  return HvStatus.SUCCESS;
}
