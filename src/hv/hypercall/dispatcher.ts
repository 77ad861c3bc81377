// The one hypercall dispatcher every caller goes through: the root (its WinHv writes inputs into root pages and
// enters here) and children (VMCALL with the TLFS x64 register convention: RCX control, RDX input GPA, R8
// output GPA, result in RAX). It decodes the control word, checks privileges and the rep/size/alignment rules,
// translates the parameter GPAs through the CALLER's own map (so a caller can name only memory it owns), then
// runs the call's handler on the parameters in place.
import { HvCall, HvStatus } from './codes.js';
import { Control } from './layouts.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';
import { GPA_READ, GPA_WRITE } from '../../vp/index.js';
import type { VirtualProcessor } from '../virtual-processor.js';
import {
  createPartition, deletePartition, finalizePartition, getPartitionProperty, initializePartition,
  installIntercept, setCpuidLeaves, setPartitionProperty,
} from './partition-calls.js';
import { flushGpaList, mapGpaPages, unmapGpaPages } from './memory-calls.js';
import { createVp, dispatchVp, getVpRegisters, setVpRegisters } from './vp-calls.js';
import { assertVirtualInterrupt } from './interrupt-calls.js';
import { getPartitionId, notifyLongSpinWait, usable } from '../enlightenments/index.js';
import { Privilege } from '../privileges.js';
import { postMessageCall, signalEventCall, PostMessageIn, SignalEventIn } from '../synic/index.js';

/**
 * A call's handler: parameters are byte offsets of the validated input and output in system memory.
 * Returns status + reps completed * 0x10000.
 */
export type CallHandler = (hv: Hypervisor, caller: Partition, inOff: number, outOff: number, repCount: number, repStart: number) => number;

interface CallSpec {
  handler: CallHandler;
  rep: boolean;
  /** Fixed input and output sizes, and per-rep sizes for rep calls. */
  inSize: number;
  outSize: number;
  repIn: number;
  repOut: number;
  /** Only a partition holding CPU_MANAGEMENT / CREATE_PARTITIONS (the root) may call it. */
  rootOnly: boolean;
  /** A privilege the caller must hold (HV_STATUS_ACCESS_DENIED otherwise), or -1. */
  privilege: number;
}

const CALLS = new Map<number, CallSpec>();
function def(code: number, handler: CallHandler, inSize: number, outSize: number, opts: Partial<CallSpec> = {}): void {
  CALLS.set(code, { handler, rep: false, inSize, outSize, repIn: 0, repOut: 0, rootOnly: true, privilege: -1, ...opts });
}
// Calls any partition may make (guests through their hypercall page).
def(HvCall.NotifyLongSpinWait, notifyLongSpinWait, 8, 0, { rootOnly: false });
def(HvCall.GetPartitionId, getPartitionId, 0, 8, { rootOnly: false, privilege: Privilege.ACCESS_PARTITION_ID });
def(HvCall.PostMessage, postMessageCall, PostMessageIn.SIZE, 0, { rootOnly: false, privilege: Privilege.POST_MESSAGES });
def(HvCall.SignalEvent, signalEventCall, SignalEventIn.SIZE, 0, { rootOnly: false, privilege: Privilege.SIGNAL_EVENTS });
// The root's management calls.
def(HvCall.CreatePartition, createPartition, 56, 8);
def(HvCall.InitializePartition, initializePartition, 8, 0);
def(HvCall.FinalizePartition, finalizePartition, 8, 0);
def(HvCall.DeletePartition, deletePartition, 8, 0);
def(HvCall.GetPartitionProperty, getPartitionProperty, 16, 8);
def(HvCall.SetPartitionProperty, setPartitionProperty, 24, 0);
def(HvCall.MapGpaPages, mapGpaPages, 24, 0, { rep: true, repIn: 8 });
def(HvCall.UnmapGpaPages, unmapGpaPages, 24, 0, { rep: true });
def(HvCall.InstallIntercept, installIntercept, 24, 0);
def(HvCall.CreateVp, createVp, 40, 0);
def(HvCall.GetVpRegisters, getVpRegisters, 16, 0, { rep: true, repIn: 4, repOut: 16 });
def(HvCall.SetVpRegisters, setVpRegisters, 16, 0, { rep: true, repIn: 32 });
def(HvCall.FlushGuestPhysicalAddressList, flushGpaList, 16, 0, { rep: true, repIn: 8 });
def(HvCall.DispatchVp, dispatchVp, 32, 8);
def(HvCall.AssertVirtualInterrupt, assertVirtualInterrupt, 32, 0);
def(HvCall.HypatiaSetCpuidLeaves, setCpuidLeaves, 8, 0, { rep: true, repIn: 32 });

const TWO32 = 4294967296;

export class HypercallDispatcher {
  /** The 64-bit result of the last call as (lo, hi). */
  resultLo = 0;
  resultHi = 0;

  constructor(private readonly hv: Hypervisor, private readonly fastInputOffset: number) {}

  /**
   * A VP executed VMCALL (at CPL 0 in protected or long mode; the processor raises #UD otherwise). TLFS
   * register conventions: in 64-bit mode RCX control, RDX input GPA (or fast input 1), R8 output GPA (or fast
   * input 2), result in RAX; in 32-bit modes EDX:EAX control, EBX:ECX input, EDI:ESI output, result in EDX:EAX.
   */
  guestHypercall(vp: VirtualProcessor): void {
    const s = vp.cpu.s;
    if (vp.cpu.mode64) {
      this.call(vp.partition, s[2], s[3], s[4], s[5], s[16], s[17]);
      s[0] = this.resultLo;
      s[1] = this.resultHi;
    } else {
      // (register r's low half is s[2r]): EAX 0, ECX 1, EDX 2, EBX 3, ESI 6, EDI 7.
      this.call(vp.partition, s[0], s[4], s[2], s[6], s[12], s[14]);
      s[0] = this.resultLo; s[1] = 0;
      s[4] = this.resultHi; s[5] = 0;
    }
  }

  /**
   * Dispatch one hypercall. For memory-form calls (in, out) are GPAs in the caller's space; for fast calls
   * they are the input values themselves (RDX, R8). The result goes to resultLo/resultHi.
   */
  call(caller: Partition, ctlLo: number, ctlHi: number, inLo: number, inHi: number, outLo: number, outHi: number): void {
    const packed = this.run(caller, ctlLo, ctlHi, inLo, inHi, outLo, outHi);
    this.resultLo = packed & 0xffff;
    this.resultHi = Math.floor(packed / 0x10000) & 0xfff;
  }

  private run(caller: Partition, ctlLo: number, ctlHi: number, inLo: number, inHi: number, outLo: number, outHi: number): number {
    if ((ctlLo & Control.RESERVED_LO) !== 0 || (ctlHi & Control.RESERVED_HI) !== 0) return HvStatus.INVALID_HYPERCALL_INPUT;
    const spec = CALLS.get(ctlLo & Control.CODE_MASK);
    if (spec === undefined) return HvStatus.INVALID_HYPERCALL_CODE;
    if (spec.rootOnly && !caller.isRoot) return HvStatus.ACCESS_DENIED;
    if (spec.privilege >= 0 && !usable(caller.privileges, spec.privilege)) return HvStatus.ACCESS_DENIED;
    const repCount = ctlHi & Control.REP_COUNT_MASK;
    const repStart = (ctlHi >>> Control.REP_START_SHIFT) & Control.REP_COUNT_MASK;
    if (spec.rep) {
      if (repCount === 0 || repStart >= repCount) return HvStatus.INVALID_HYPERCALL_INPUT;
    } else if (repCount !== 0 || repStart !== 0) {
      return HvStatus.INVALID_HYPERCALL_INPUT;
    }
    if (((ctlLo >>> Control.VARHDR_SHIFT) & Control.VARHDR_MASK) !== 0) return HvStatus.INVALID_HYPERCALL_INPUT;
    const inLen = spec.inSize + repCount * spec.repIn;
    const outLen = spec.outSize + repCount * spec.repOut;
    let inOff: number, outOff = -1;
    if ((ctlLo & Control.FAST) !== 0) {
      // Fast form: up to 16 bytes of input in two registers, no output.
      if (inLen > 16 || outLen !== 0) return HvStatus.INVALID_HYPERCALL_INPUT;
      inOff = this.fastInputOffset;
      const dv = this.hv.memory.view;
      dv.setInt32(inOff, inLo, true); dv.setInt32(inOff + 4, inHi, true);
      dv.setInt32(inOff + 8, outLo, true); dv.setInt32(inOff + 12, outHi, true);
    } else {
      const inGpa = (inHi >>> 0) * TWO32 + (inLo >>> 0);
      const outGpa = (outHi >>> 0) * TWO32 + (outLo >>> 0);
      if (inLen > 0) {
        if ((inLo & 7) !== 0) return HvStatus.INVALID_ALIGNMENT;
        if ((inLo & 0xfff) + inLen > 4096) return HvStatus.INVALID_ALIGNMENT; // parameters may not span pages
        inOff = caller.map.hostOffset(inGpa, inLen, GPA_READ);
        if (inOff < 0) return HvStatus.INVALID_PARAMETER;
      } else {
        inOff = -1;
      }
      if (outLen > 0) {
        if ((outLo & 7) !== 0) return HvStatus.INVALID_ALIGNMENT;
        if ((outLo & 0xfff) + outLen > 4096) return HvStatus.INVALID_ALIGNMENT;
        outOff = caller.map.hostOffset(outGpa, outLen, GPA_WRITE);
        if (outOff < 0) return HvStatus.INVALID_PARAMETER;
      }
    }
    const r = spec.handler(this.hv, caller, inOff, outOff, repCount, repStart);
    // Simple calls report no reps; rep calls that succeed report them all.
    return spec.rep && (r & 0xffff) === HvStatus.SUCCESS && r < 0x10000 ? HvStatus.SUCCESS + repCount * 0x10000 : r;
  }
}
