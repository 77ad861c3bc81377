// Virtual processor calls: HvCallCreateVp, HvCallGetVpRegisters, HvCallSetVpRegisters, HvCallDispatchVp.
import { HvStatus } from './codes.js';
import {
  CreateVpIn, DispatchVpFlags, DispatchVpIn, DispatchVpOut, GET_REGISTERS_REP_IN, GET_REGISTERS_REP_OUT,
  RegisterAssoc, SegmentValueLayout, TableValueLayout, VpRegistersIn,
} from './layouts.js';
import { registerTarget } from './registers.js';
import { childPartition, vpOf } from './targets.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';
import { MAX_VPS_PER_PARTITION, PartitionState } from '../partition.js';
import { INSTRUCTIONS_PER_100NS, TSC_TICKS_PER_100NS, TSC_TICKS_PER_INSTRUCTION } from '../virtual-time.js';
import type { VirtualProcessor } from '../virtual-processor.js';

const REP = 0x10000;
/** Longest slice one dispatch may run (about 10 s of virtual time): keeps the root responsive. */
const MAX_SLICE_100NS = 100_000_000;
/** The latest reference time a root may set: about 28 years, keeping instruction counts exact doubles. */
const MAX_REFERENCE_TIME = 2n ** 52n / BigInt(INSTRUCTIONS_PER_100NS * TSC_TICKS_PER_INSTRUCTION);

export function createVp(hv: Hypervisor, caller: Partition, inOff: number): number {
  const p = childPartition(hv, caller, inOff + CreateVpIn.partitionId);
  if (typeof p === 'number') return p;
  if (p.state !== PartitionState.INITIALIZED) return HvStatus.INVALID_PARTITION_STATE;
  const index = hv.memory.view.getUint32(inOff + CreateVpIn.vpIndex, true);
  if (index >= MAX_VPS_PER_PARTITION) return HvStatus.INVALID_VP_INDEX;
  if (p.vps[index] !== undefined) return HvStatus.OBJECT_IN_USE;
  return hv.newVp(p, index) ? HvStatus.SUCCESS : HvStatus.INSUFFICIENT_MEMORY;
}

/** Resolve the (partition, VP) header of Get/SetVpRegisters. */
function registersTarget(hv: Hypervisor, caller: Partition, inOff: number): VirtualProcessor | number {
  const p = childPartition(hv, caller, inOff + VpRegistersIn.partitionId);
  if (typeof p === 'number') return p;
  if (hv.memory.view.getUint8(inOff + VpRegistersIn.inputVtl) !== 0) return HvStatus.INVALID_PARAMETER; // VTL 0 only
  return vpOf(hv, p, inOff + VpRegistersIn.vpIndex);
}

function u64(dv: DataView, off: number): bigint {
  return dv.getBigUint64(off, true);
}

export function getVpRegisters(hv: Hypervisor, caller: Partition, inOff: number, outOff: number, repCount: number, repStart: number): number {
  const vp = registersTarget(hv, caller, inOff);
  if (typeof vp === 'number') return vp + repStart * REP;
  const dv = hv.memory.view, e = vp.engine;
  for (let i = repStart; i < repCount; i++) {
    const t = registerTarget(dv.getUint32(inOff + VpRegistersIn.SIZE + i * GET_REGISTERS_REP_IN, true));
    if (t === undefined) return HvStatus.INVALID_PARAMETER + i * REP;
    const o = outOff + i * GET_REGISTERS_REP_OUT;
    dv.setBigUint64(o, 0n, true);
    dv.setBigUint64(o + 8, 0n, true);
    if (t.kind === 'scalar') {
      dv.setBigUint64(o, e.getRegister(t.name), true);
    } else if (t.kind === 'time-ref') {
      const t100 = Math.floor(vp.instructionTime * TSC_TICKS_PER_INSTRUCTION / TSC_TICKS_PER_100NS);
      dv.setUint32(o, t100 >>> 0, true);
      dv.setUint32(o + 4, Math.floor(t100 / 4294967296), true);
    } else if (t.kind === 'crash') {
      // Partition-wide: the parameters the guest wrote, and the control value of its last notification.
      const c = vp.partition.synthetic.crash;
      if (t.index < 5) {
        dv.setInt32(o, c.params[2 * t.index], true);
        dv.setInt32(o + 4, c.params[2 * t.index + 1], true);
      } else {
        dv.setInt32(o + 4, c.notifiedCtlHi, true);
      }
    } else if (t.kind === 'segment') {
      const sv = e.getSegment(t.name);
      dv.setBigUint64(o + SegmentValueLayout.base, sv.base, true);
      dv.setUint32(o + SegmentValueLayout.limit, sv.limit >>> 0, true);
      dv.setUint16(o + SegmentValueLayout.selector, sv.selector & 0xffff, true);
      dv.setUint16(o + SegmentValueLayout.attributes, sv.attributes & 0xffff, true);
    } else {
      dv.setUint16(o + TableValueLayout.limit, Number(e.getRegister(t.limit)) & 0xffff, true);
      dv.setBigUint64(o + TableValueLayout.base, e.getRegister(t.base), true);
    }
  }
  return HvStatus.SUCCESS;
}

const CANONICAL_LIMIT = 1n << 47n;
function canonical(v: bigint): boolean {
  return v < CANONICAL_LIMIT || v >= (1n << 64n) - CANONICAL_LIMIT;
}

/** Values the processor could never hold: refused rather than handed to the engine. */
function valid(name: string, v: bigint): boolean {
  switch (name) {
    case 'rip': case 'rsp': case 'fs_base': case 'gs_base': case 'kernel_gs_base': case 'lstar': case 'cstar':
    case 'gdtr_base': case 'idtr_base':
      return canonical(v);
    case 'efer': return (v & ~0xd01n) === 0n; // SCE, LME, LMA, NXE
    case 'cr0': return v < (1n << 32n) && !((v & 0x80000000n) !== 0n && (v & 1n) === 0n); // PG needs PE
    case 'cr4': case 'cr8': case 'sfmask': case 'tsc_aux': return v < (1n << 32n);
    default: return true;
  }
}

export function setVpRegisters(hv: Hypervisor, caller: Partition, inOff: number, _outOff: number, repCount: number, repStart: number): number {
  const vp = registersTarget(hv, caller, inOff);
  if (typeof vp === 'number') return vp + repStart * REP;
  const dv = hv.memory.view, e = vp.engine;
  for (let i = repStart; i < repCount; i++) {
    const a = inOff + VpRegistersIn.SIZE + i * RegisterAssoc.SIZE;
    const t = registerTarget(dv.getUint32(a + RegisterAssoc.name, true));
    if (t === undefined) return HvStatus.INVALID_PARAMETER + i * REP;
    const v = a + RegisterAssoc.value;
    if (t.kind === 'time-ref') {
      // The root may move a VP's clock forward, never back (a guest's clocks must stay monotonic): how a root
      // whose child ran slower than real time keeps the child's clock on the host's. Virtual time jumps as it
      // does over a halt, so timers that fell due meanwhile fire at the next instruction boundary.
      const now = vp.instructionTime;
      const target = u64(dv, v);
      if (target > MAX_REFERENCE_TIME) return HvStatus.INVALID_REGISTER_VALUE + i * REP;
      const instructions = Number(target) * INSTRUCTIONS_PER_100NS;
      if (instructions < Math.floor(now / INSTRUCTIONS_PER_100NS) * INSTRUCTIONS_PER_100NS) return HvStatus.INVALID_REGISTER_VALUE + i * REP;
      if (instructions > now) vp.skippedInstructions += instructions - now;
      continue;
    }
    if (t.kind === 'scalar') {
      const value = u64(dv, v);
      if (!valid(t.name, value)) return HvStatus.INVALID_REGISTER_VALUE + i * REP;
      e.setRegister(t.name, value);
    } else if (t.kind === 'crash') {
      const c = vp.partition.synthetic.crash;
      const lo = dv.getInt32(v, true), hi = dv.getInt32(v + 4, true);
      if (t.index < 5) {
        c.params[2 * t.index] = lo;
        c.params[2 * t.index + 1] = hi;
      } else {
        if (lo !== 0 || (hi & 0x3fffffff) !== 0) return HvStatus.INVALID_REGISTER_VALUE + i * REP;
        c.notifiedCtlHi = hi;
      }
    } else if (t.kind === 'segment') {
      e.setSegment(t.name, {
        base: u64(dv, v + SegmentValueLayout.base),
        limit: dv.getUint32(v + SegmentValueLayout.limit, true),
        selector: dv.getUint16(v + SegmentValueLayout.selector, true),
        attributes: dv.getUint16(v + SegmentValueLayout.attributes, true),
      });
    } else {
      const base = u64(dv, v + TableValueLayout.base);
      if (!canonical(base)) return HvStatus.INVALID_REGISTER_VALUE + i * REP;
      e.setRegister(t.base, base);
      e.setRegister(t.limit, BigInt(dv.getUint16(v + TableValueLayout.limit, true)));
    }
  }
  return HvStatus.SUCCESS;
}

export function dispatchVp(hv: Hypervisor, caller: Partition, inOff: number, outOff: number): number {
  const p = childPartition(hv, caller, inOff + DispatchVpIn.partitionId);
  if (typeof p === 'number') return p;
  if (p.state !== PartitionState.INITIALIZED) return HvStatus.INVALID_PARTITION_STATE;
  const vp = vpOf(hv, p, inOff + DispatchVpIn.vpIndex);
  if (typeof vp === 'number') return vp;
  if (vp.running) return HvStatus.INVALID_VP_STATE; // re-dispatch from inside its own intercept
  const dv = hv.memory.view;
  const flags = dv.getUint32(inOff + DispatchVpIn.flags, true);
  const sliceLo = dv.getUint32(inOff + DispatchVpIn.timeSlice, true);
  const sliceHi = dv.getUint32(inOff + DispatchVpIn.timeSlice + 4, true);
  if (sliceLo === 0 && sliceHi === 0) return HvStatus.INVALID_PARAMETER;
  const slice = sliceHi !== 0 ? MAX_SLICE_100NS : Math.min(sliceLo, MAX_SLICE_100NS);
  // Read all input before running: intercept handlers may make nested hypercalls through the same pages.
  const r = vp.lastDispatch;
  vp.dispatch(Math.max(1, Math.floor(slice * INSTRUCTIONS_PER_100NS)), (flags & DispatchVpFlags.CLEAR_INTERCEPT_SUSPEND) !== 0, r);
  dv.setUint32(outOff + DispatchVpOut.state, r.state, true);
  dv.setUint32(outOff + DispatchVpOut.event, r.event, true);
  return HvStatus.SUCCESS;
}
