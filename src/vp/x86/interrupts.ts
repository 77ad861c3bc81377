// Exception and interrupt delivery through the 64-bit IDT (gates, IST stacks, privilege change via TSS.RSPn),
// with #DF/triple-fault escalation, and the return path (IRET). Intel SDM vol. 3, chapter 6.
import {
  EXC_BP, EXC_DB, EXC_DE, EXC_DF, EXC_GP, EXC_NP, EXC_NMI, EXC_PF, EXC_SS, EXC_TS, EXC_OF,
  FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_RF, FLAG_TF, FLAG_VM, RSP, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS,
} from './constants.js';
import { materializeFlags, LZ_NONE } from './flags.js';
import {
  S_IDTR_BASE, S_IDTR_LIMIT, S_LZ_OP, S_RFLAGS, S_RIP, S_SEG_ATTR, S_SEG_SEL, S_TR_BASE, S_TR_LIMIT, S_TR_SEL,
} from './state.js';
import { loadCodeSegment, readDescriptor, setSegmentCache } from './segments.js';
import type { X86Cpu } from './cpu.js';

/** The one object thrown for guest faults: no allocation, no stack capture. */
export class Fault {
  vector = 0;
  errorCode = -1;
}
export const FAULT = new Fault();

/** How an event arrived: it decides the pushed RIP, DPL checks and the EXT bit of error codes. */
export const EV_EXCEPTION = 0;
export const EV_EXTERNAL = 1;
export const EV_SOFTWARE = 2; // INT n, INT3, INTO: gate DPL checked against CPL

function contributory(v: number): boolean {
  return v === EXC_DE || v === EXC_TS || v === EXC_NP || v === EXC_SS || v === EXC_GP;
}

/** Exceptions that push an error code. */
export function hasErrorCode(v: number): boolean {
  return v === EXC_DF || v === EXC_TS || v === EXC_NP || v === EXC_SS || v === EXC_GP || v === EXC_PF || v === 17;
}

/** Deliver an exception raised by the instruction at RIP (faults) or after it (traps set RIP first). */
export function deliverException(cpu: X86Cpu, vector: number, errorCode: number): void {
  deliverEscalating(cpu, vector, errorCode, EV_EXCEPTION);
}

/** Deliver an external interrupt (or NMI) between instructions. */
export function deliverInterrupt(cpu: X86Cpu, vector: number): void {
  deliverEscalating(cpu, vector, -1, vector === EXC_NMI ? EV_EXCEPTION : EV_EXTERNAL);
}

/** INT n / INT3 / INTO: RIP already points after the instruction. */
export function deliverSoftware(cpu: X86Cpu, vector: number): void {
  deliverEscalating(cpu, vector, -1, EV_SOFTWARE);
}

function deliverEscalating(cpu: X86Cpu, vector: number, err: number, kind: number): void {
  let v = vector, e = err, k = kind;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      deliver(cpu, v, e, k);
      return;
    } catch (x) {
      if (x !== FAULT) throw x;
      const nv = FAULT.vector;
      if (v === EXC_DF) break; // fault while delivering #DF: shutdown
      const pf = v === EXC_PF;
      if ((contributory(v) || pf) && (contributory(nv) || (pf && nv === EXC_PF))) {
        v = EXC_DF; e = 0;
      } else {
        v = nv; e = FAULT.errorCode;
      }
      k = EV_EXCEPTION;
    }
  }
  cpu.triple();
}

/** Scratch for the frame being pushed (SS, RSP, RFLAGS, CS, RIP, error code as lo/hi pairs). */
const FRAME = new Int32Array(12);
const OUTER_NULL_SEGS = [SEG_ES, SEG_DS, SEG_FS, SEG_GS];
const IRET_VALS = new Int32Array(10);

function deliver(cpu: X86Cpu, vector: number, err: number, kind: number): void {
  const s = cpu.s;
  // EXT (SDM 6.13): set when the fault happens while delivering an event external to the program (an
  // interrupt or an earlier exception), clear only while delivering INT n / INT3 / INTO.
  const ext = kind === EV_SOFTWARE ? 0 : 1;
  const gateErr = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > s[S_IDTR_LIMIT]) cpu.fault(EXC_GP, gateErr);
  const bLo = s[S_IDTR_BASE], bHi = s[S_IDTR_BASE + 1];
  const gLo = (bLo + vector * 16) | 0;
  const gHi = (gLo >>> 0) < (bLo >>> 0) ? (bHi + 1) | 0 : bHi;
  const w0 = cpu.readSystem32(gLo, gHi);
  const w1 = cpu.readSystem32((gLo + 4) | 0, gHi);
  const w2 = cpu.readSystem32((gLo + 8) | 0, gHi);
  const type = (w1 >> 8) & 0xf;
  const gateDpl = (w1 >> 13) & 3;
  const cpl = cpu.cpl;
  if (type !== 0xe && type !== 0xf) cpu.fault(EXC_GP, gateErr);
  if (kind === EV_SOFTWARE && gateDpl < cpl) cpu.fault(EXC_GP, gateErr);
  if ((w1 & 0x8000) === 0) cpu.fault(EXC_NP, gateErr);
  const sel = w0 >>> 16;
  const offLo = (w0 & 0xffff) | (w1 & 0xffff0000);
  const offHi = w2;
  const ist = w1 & 7;
  if ((sel & 0xfffc) === 0) cpu.fault(EXC_GP, ext);
  const d = readDescriptor(cpu, sel, (sel & 0xfffc) + ext);
  if (!d.code || !d.long) cpu.fault(EXC_GP, (sel & 0xfffc) + ext);
  const conforming = (d.type & 4) !== 0;
  const newCpl = conforming ? cpl : d.dpl;
  if (newCpl > cpl) cpu.fault(EXC_GP, (sel & 0xfffc) + ext);
  if (!d.present) cpu.fault(EXC_NP, (sel & 0xfffc) + ext);
  const dAttr = d.attr, dBase = d.base, dLimit = d.limit;

  // The new stack: IST entry, else TSS.RSPn on a privilege change, else the current one.
  let rspLo = s[2 * RSP], rspHi = s[2 * RSP + 1];
  const tLo = s[S_TR_BASE], tHi = s[S_TR_BASE + 1];
  if (ist !== 0 || newCpl < cpl) {
    const off = ist !== 0 ? 0x24 + (ist - 1) * 8 : 4 + newCpl * 8;
    if (off + 7 > (s[S_TR_LIMIT] >>> 0)) cpu.fault(EXC_TS, (s[S_TR_SEL] & 0xfffc) + ext); // beyond the TSS limit
    const aLo = (tLo + off) | 0;
    const aHi = (aLo >>> 0) < (tLo >>> 0) ? (tHi + 1) | 0 : tHi;
    rspLo = cpu.readSystem32(aLo, aHi);
    rspHi = cpu.readSystem32((aLo + 4) | 0, aHi);
    if (((rspHi << 16) >> 16) !== rspHi) cpu.fault(EXC_SS, ext);
  }
  rspLo &= ~15;

  const flags = materializeFlags(s);
  const oldSs = s[S_SEG_SEL + SEG_SS], oldRspLo = s[2 * RSP], oldRspHi = s[2 * RSP + 1];
  const oldCs = s[S_SEG_SEL + SEG_CS], ripLo = s[S_RIP], ripHi = s[S_RIP + 1];

  // Push the frame with the new privilege's access rights; on a fault, nothing architectural has changed.
  const frame = FRAME;
  frame[0] = oldSs; frame[1] = 0;
  frame[2] = oldRspLo; frame[3] = oldRspHi;
  frame[4] = flags; frame[5] = 0;
  frame[6] = oldCs; frame[7] = 0;
  frame[8] = ripLo; frame[9] = ripHi;
  frame[10] = err < 0 ? 0 : err; frame[11] = 0;
  const words = kind === EV_EXCEPTION && hasErrorCode(vector) ? 6 : 5;
  cpu.setCpl(newCpl);
  cpu.stackAccess = true;
  try {
    let l = rspLo, h = rspHi;
    for (let k = 0; k < words; k++) {
      const nl = (l - 8) | 0;
      h = (nl >>> 0) > (l >>> 0) ? (h - 1) | 0 : h;
      l = nl;
      cpu.write64(l, h, frame[2 * k], frame[2 * k + 1]);
    }
    rspLo = l; rspHi = h;
  } catch (x) {
    cpu.setCpl(cpl);
    throw x;
  } finally {
    cpu.stackAccess = false;
  }
  s[2 * RSP] = rspLo;
  s[2 * RSP + 1] = rspHi;
  loadCodeSegment(cpu, sel, dBase, dLimit, dAttr, newCpl);
  if (newCpl !== cpl) setSegmentCache(cpu, SEG_SS, newCpl, 0, 0, 0);
  let nf = flags & ~(FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM);
  if (type === 0xe) nf &= ~FLAG_IF;
  s[S_RFLAGS] = nf;
  s[S_LZ_OP] = LZ_NONE;
  s[S_RIP] = offLo;
  s[S_RIP + 1] = offHi;
}

/** Vectors that are traps (RIP after the instruction) when raised by the instruction itself. */
export function isTrapVector(v: number): boolean {
  return v === EXC_BP || v === EXC_OF || v === EXC_DB;
}

/**
 * IRET with operand size 8 (IRETQ), 4 or 2, in long mode. Pops RIP, CS, RFLAGS, RSP, SS and returns to the
 * same or an outer privilege level. Sets the processor's RIP (and nip through the caller).
 */
export function iret(cpu: X86Cpu, size: number): void {
  const s = cpu.s;
  const cpl = cpu.cpl;
  let l = s[2 * RSP], h = s[2 * RSP + 1];
  const vals = IRET_VALS;
  const n = 5;
  cpu.stackAccess = true;
  for (let k = 0; k < n; k++) {
    if (size === 8) { vals[2 * k] = cpu.read64(l, h); vals[2 * k + 1] = cpu.rdHi; }
    else if (size === 4) { vals[2 * k] = cpu.read32(l, h); vals[2 * k + 1] = 0; }
    else { vals[2 * k] = cpu.read16(l, h); vals[2 * k + 1] = 0; }
    const nl = (l + size) | 0;
    h = (nl >>> 0) < (l >>> 0) ? (h + 1) | 0 : h;
    l = nl;
  }
  cpu.stackAccess = false;
  let ripLo = vals[0], ripHi = vals[1];
  const csSel = vals[2] & 0xffff;
  const newFlags = vals[4];
  const newRspLo = vals[6], newRspHi = vals[7];
  const ssSel = vals[8] & 0xffff;
  if ((csSel & 0xfffc) === 0) cpu.fault(EXC_GP, 0);
  const rpl = csSel & 3;
  if (rpl < cpl) cpu.fault(EXC_GP, csSel & 0xfffc);
  const d = readDescriptor(cpu, csSel);
  if (!d.code) cpu.fault(EXC_GP, csSel & 0xfffc);
  const conforming = (d.type & 4) !== 0;
  if (conforming ? d.dpl > rpl : d.dpl !== rpl) cpu.fault(EXC_GP, csSel & 0xfffc);
  if (!d.present) cpu.fault(EXC_NP, csSel & 0xfffc);
  // readDescriptor returns one scratch object: copy what we need before the SS lookup overwrites it.
  const csAttr = d.attr, csBase = d.base, csLimit = d.limit, csLong = d.long;
  if (!csLong) { ripHi = 0; if (size !== 8) ripLo >>>= 0; }
  else if (((ripHi << 16) >> 16) !== ripHi) cpu.fault(EXC_GP, 0);
  // SS: a null selector is allowed when returning to 64-bit code at CPL < 3.
  let ssBase = 0, ssLimit = 0, ssAttr = 0;
  if ((ssSel & 0xfffc) === 0) {
    if (!csLong || rpl === 3) cpu.fault(EXC_GP, 0);
  } else {
    if ((ssSel & 3) !== rpl) cpu.fault(EXC_GP, ssSel & 0xfffc);
    const sd = readDescriptor(cpu, ssSel);
    if (!sd.s || sd.code || (sd.type & 2) === 0 || sd.dpl !== rpl) cpu.fault(EXC_GP, ssSel & 0xfffc);
    if (!sd.present) cpu.fault(EXC_SS, ssSel & 0xfffc);
    ssBase = sd.base; ssLimit = sd.limit; ssAttr = sd.attr;
  }
  // Flags: IOPL only at CPL 0, IF only when CPL <= IOPL; VM is never set by IRET in long mode.
  const old = materializeFlags(s);
  let mask = 0x3f7fd5 & ~FLAG_VM; // CF PF AF ZF SF TF IF DF OF IOPL NT RF AC VIF VIP ID
  if (size === 2) mask &= 0xffff;
  if (cpl > 0) mask &= ~FLAG_IOPL;
  if (cpl > ((old & FLAG_IOPL) >> 12)) mask &= ~FLAG_IF;
  s[S_RFLAGS] = ((old & ~mask) | (newFlags & mask) | 2) & ~FLAG_VM;
  s[S_LZ_OP] = LZ_NONE;
  loadCodeSegment(cpu, csSel, csBase, csLimit, csAttr, rpl);
  setSegmentCache(cpu, SEG_SS, ssSel, ssBase, ssLimit, ssAttr);
  if (rpl > cpl) {
    // Returning outward: data (and non-conforming code) segments the new CPL may not use become null
    // (SDM IRET pseudo-code, RETURN-TO-OUTER-PRIVILEGE-LEVEL). The FS/GS bases are left as they are.
    for (const seg of OUTER_NULL_SEGS) {
      const attr = s[S_SEG_ATTR + seg];
      const conformingCode = (attr & 0x1c) === 0x1c;
      if ((s[S_SEG_SEL + seg] & 0xfffc) !== 0 && !conformingCode && ((attr >> 5) & 3) < rpl) {
        s[S_SEG_SEL + seg] = 0;
        s[S_SEG_ATTR + seg] = 0;
      }
    }
  }
  s[2 * RSP] = newRspLo;
  s[2 * RSP + 1] = csLong ? newRspHi : 0;
  s[S_RIP] = ripLo;
  s[S_RIP + 1] = ripHi;
}

/** One delivery attempt without escalation (INT n: a fault here is reported against the INT instruction). */
export function deliverOnce(cpu: X86Cpu, vector: number, err: number, kind: number): void {
  deliver(cpu, vector, err, kind);
}
