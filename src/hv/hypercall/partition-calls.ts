// Partition lifetime and configuration: HvCallCreatePartition, Initialize, Finalize, Delete, Get/Set partition
// property, InstallIntercept, and Hypatia's CPUID-table extension.
import { HvStatus } from './codes.js';
import {
  CPUID_LEAF_SUBLEAF_SPECIFIC, CpuidLeafLayout, CreatePartitionIn, CreatePartitionOut, GetPartitionPropertyIn,
  InstallInterceptIn, InterceptAccess, InterceptType, PartitionProperty, SetCpuidIn, SetPartitionPropertyIn,
} from './layouts.js';
import { childPartition } from './targets.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';
import { PartitionState } from '../partition.js';
import { ROOT_ONLY_PRIVILEGES, Privilege } from '../privileges.js';
import { VIRTUAL_TSC_HZ } from '../virtual-time.js';

export function createPartition(hv: Hypervisor, caller: Partition, inOff: number, outOff: number): number {
  if (!caller.privileges.has(Privilege.CREATE_PARTITIONS)) return HvStatus.ACCESS_DENIED;
  const dv = hv.memory.view;
  const flagsLo = dv.getUint32(inOff + CreatePartitionIn.flags, true);
  const p = hv.newChildPartition(caller, flagsLo);
  if (p === null) return HvStatus.INSUFFICIENT_MEMORY;
  dv.setUint32(outOff + CreatePartitionOut.partitionId, p.id, true);
  dv.setUint32(outOff + CreatePartitionOut.partitionId + 4, 0, true);
  return HvStatus.SUCCESS;
}

export function initializePartition(hv: Hypervisor, caller: Partition, inOff: number): number {
  const p = childPartition(hv, caller, inOff);
  if (typeof p === 'number') return p;
  if (p.state !== PartitionState.CREATED) return HvStatus.INVALID_PARTITION_STATE;
  p.state = PartitionState.INITIALIZED;
  return HvStatus.SUCCESS;
}

export function finalizePartition(hv: Hypervisor, caller: Partition, inOff: number): number {
  const p = childPartition(hv, caller, inOff);
  if (typeof p === 'number') return p;
  if (p.state === PartitionState.FINALIZED) return HvStatus.INVALID_PARTITION_STATE;
  p.state = PartitionState.FINALIZED;
  return HvStatus.SUCCESS;
}

export function deletePartition(hv: Hypervisor, caller: Partition, inOff: number): number {
  const p = childPartition(hv, caller, inOff);
  if (typeof p === 'number') return p;
  hv.destroyPartition(p);
  return HvStatus.SUCCESS;
}

export function getPartitionProperty(hv: Hypervisor, caller: Partition, inOff: number, outOff: number): number {
  const p = childPartition(hv, caller, inOff);
  if (typeof p === 'number') return p;
  const dv = hv.memory.view;
  const code = dv.getUint32(inOff + GetPartitionPropertyIn.propertyCode, true);
  let lo: number, hi: number;
  switch (code) {
    case PartitionProperty.PRIVILEGE_FLAGS: lo = p.privileges.lo; hi = p.privileges.hi; break;
    case PartitionProperty.PROCESSOR_CLOCK_FREQUENCY: lo = VIRTUAL_TSC_HZ; hi = 0; break;
    default: return HvStatus.UNKNOWN_PROPERTY;
  }
  dv.setUint32(outOff, lo >>> 0, true);
  dv.setUint32(outOff + 4, hi >>> 0, true);
  return HvStatus.SUCCESS;
}

export function setPartitionProperty(hv: Hypervisor, caller: Partition, inOff: number): number {
  const p = childPartition(hv, caller, inOff);
  if (typeof p === 'number') return p;
  const dv = hv.memory.view;
  const code = dv.getUint32(inOff + SetPartitionPropertyIn.propertyCode, true);
  const lo = dv.getUint32(inOff + SetPartitionPropertyIn.value, true) | 0;
  const hi = dv.getUint32(inOff + SetPartitionPropertyIn.value + 4, true) | 0;
  switch (code) {
    case PartitionProperty.PRIVILEGE_FLAGS:
      // Privileges are fixed once the partition runs, and a child never gets the root's management rights.
      if (p.state !== PartitionState.CREATED) return HvStatus.INVALID_PARTITION_STATE;
      if ((lo & ROOT_ONLY_PRIVILEGES.lo) !== 0 || (hi & ROOT_ONLY_PRIVILEGES.hi) !== 0) return HvStatus.PROPERTY_VALUE_OUT_OF_RANGE;
      p.privileges.lo = lo;
      p.privileges.hi = hi;
      p.privilegesChanged();
      return HvStatus.SUCCESS;
    case PartitionProperty.PROCESSOR_CLOCK_FREQUENCY:
      return HvStatus.OPERATION_DENIED; // virtual time runs at a fixed rate
    default:
      return HvStatus.UNKNOWN_PROPERTY;
  }
}

export function installIntercept(hv: Hypervisor, caller: Partition, inOff: number): number {
  const p = childPartition(hv, caller, inOff);
  if (typeof p === 'number') return p;
  if (p.state === PartitionState.FINALIZED) return HvStatus.INVALID_PARTITION_STATE;
  const dv = hv.memory.view;
  const access = dv.getUint32(inOff + InstallInterceptIn.accessType, true);
  const type = dv.getUint32(inOff + InstallInterceptIn.interceptType, true);
  const pLo = dv.getUint32(inOff + InstallInterceptIn.parameter, true);
  const pHi = dv.getUint32(inOff + InstallInterceptIn.parameter + 4, true);
  if ((access & ~InterceptAccess.MASK) !== 0 || (access & InterceptAccess.EXECUTE) !== 0) return HvStatus.INVALID_PARAMETER;
  switch (type) {
    case InterceptType.X64_IO_PORT:
      if (pHi !== 0 || pLo > 0xffff) return HvStatus.INVALID_PARAMETER;
      p.ioIntercepts[pLo] = access; // an empty mask removes the intercept
      return HvStatus.SUCCESS;
    case InterceptType.X64_MSR:
      if (pLo !== 0 || pHi !== 0) return HvStatus.INVALID_PARAMETER;
      p.msrInterceptAll = access;
      return HvStatus.SUCCESS;
    case InterceptType.X64_MSR_INDEX:
      if (pHi !== 0) return HvStatus.INVALID_PARAMETER;
      if (access === 0) p.msrIntercepts.delete(pLo);
      else p.msrIntercepts.set(pLo, access);
      return HvStatus.SUCCESS;
    default:
      return HvStatus.INVALID_PARAMETER;
  }
}

export function setCpuidLeaves(hv: Hypervisor, caller: Partition, inOff: number, _outOff: number, repCount: number, repStart: number): number {
  const p = childPartition(hv, caller, inOff);
  if (typeof p === 'number') return p + repStart * 0x10000;
  const dv = hv.memory.view;
  for (let i = repStart; i < repCount; i++) {
    const e = inOff + SetCpuidIn.SIZE + i * SetCpuidIn.REP_SIZE;
    const leaf = dv.getUint32(e + CpuidLeafLayout.leaf, true);
    const sub = dv.getUint32(e + CpuidLeafLayout.subleaf, true);
    const flags = dv.getUint32(e + CpuidLeafLayout.flags, true);
    if ((flags & ~CPUID_LEAF_SUBLEAF_SPECIFIC) !== 0) return HvStatus.INVALID_PARAMETER + i * 0x10000;
    const key = (flags & CPUID_LEAF_SUBLEAF_SPECIFIC) !== 0 ? `${leaf.toString(16)}:${sub.toString(16)}` : leaf.toString(16);
    p.cpuid.set(key, {
      eax: dv.getInt32(e + CpuidLeafLayout.eax, true), ebx: dv.getInt32(e + CpuidLeafLayout.ebx, true),
      ecx: dv.getInt32(e + CpuidLeafLayout.ecx, true), edx: dv.getInt32(e + CpuidLeafLayout.edx, true),
    });
  }
  return HvStatus.SUCCESS;
}
