// Segment descriptors (GDT/LDT) and segment-register loads. In 64-bit mode only CS (L, DPL), SS (DPL) and the
// FS/GS bases matter, but the checks still raise the faults the SDM specifies, because Linux relies on them
// when it loads user selectors.
import { EXC_GP, EXC_NP, EXC_SS, SEG_CS, SEG_FS, SEG_GS, SEG_SS } from './constants.js';
import {
  S_GDTR_BASE, S_GDTR_LIMIT, S_LDTR_BASE, S_LDTR_LIMIT, S_SEG_ATTR, S_SEG_BASE, S_SEG_LIMIT, S_SEG_SEL,
} from './state.js';
import type { X86Cpu } from './cpu.js';

/** A decoded descriptor (reused scratch object: descriptor reads are not re-entrant). */
export class Descriptor {
  w0 = 0;
  w1 = 0;
  base = 0;
  limit = 0;
  /** Bits 40..47 in 0..7 and 52..55 in 12..15 (type, S, DPL, P; AVL, L, D/B, G). */
  attr = 0;
  get type(): number { return this.attr & 0xf; }
  get s(): boolean { return (this.attr & 0x10) !== 0; }
  get dpl(): number { return (this.attr >> 5) & 3; }
  get present(): boolean { return (this.attr & 0x80) !== 0; }
  get code(): boolean { return (this.attr & 0x18) === 0x18; }
  get long(): boolean { return (this.attr & 0x2000) !== 0; }
}

const scratch = new Descriptor();

/** Address (lo, hi) of a selector's descriptor, or raise #GP(selector) if outside the table. */
function descriptorAddress(cpu: X86Cpu, sel: number, err: number): [number, number] {
  const s = cpu.s;
  const ldt = (sel & 4) !== 0;
  const limit = ldt ? s[S_LDTR_LIMIT] : s[S_GDTR_LIMIT];
  const off = sel & ~7;
  if (off + 7 > limit) cpu.fault(EXC_GP, err);
  const bLo = ldt ? s[S_LDTR_BASE] : s[S_GDTR_BASE];
  const bHi = ldt ? s[S_LDTR_BASE + 1] : s[S_GDTR_BASE + 1];
  const lo = (bLo + off) | 0;
  const hi = (lo >>> 0) < (bLo >>> 0) ? (bHi + 1) | 0 : bHi;
  return [lo, hi];
}

/** Read the 8-byte descriptor for `sel` with supervisor rights. Raises #GP(err) when out of the table. */
export function readDescriptor(cpu: X86Cpu, sel: number, err: number = sel & 0xfffc): Descriptor {
  const [lo, hi] = descriptorAddress(cpu, sel, err);
  const w0 = cpu.readSystem32(lo, hi);
  const l2 = (lo + 4) | 0;
  const w1 = cpu.readSystem32(l2, (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
  const d = scratch;
  d.w0 = w0;
  d.w1 = w1;
  d.base = ((w0 >>> 16) | ((w1 & 0xff) << 16) | (w1 & 0xff000000)) | 0;
  d.attr = (w1 >> 8) & 0xf0ff;
  let limit = (w0 & 0xffff) | (w1 & 0xf0000);
  if ((d.attr & 0x8000) !== 0) limit = (limit << 12) | 0xfff;
  d.limit = limit;
  return d;
}

/** Set the accessed bit of a descriptor in memory (as the processor does on load). */
function setAccessed(cpu: X86Cpu, sel: number, d: Descriptor): void {
  if ((d.w1 & 0x100) !== 0) return;
  const [lo, hi] = descriptorAddress(cpu, sel, sel & 0xfffc);
  const l2 = (lo + 4) | 0;
  const h2 = (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  const cpl = cpu.cpl;
  cpu.setCpl(0);
  try { cpu.write32(l2, h2, d.w1 | 0x100); } finally { cpu.setCpl(cpl); }
}

/** Put a descriptor's cached parts into segment register `seg`. */
export function setSegmentCache(cpu: X86Cpu, seg: number, sel: number, base: number, limit: number, attr: number): void {
  const s = cpu.s;
  s[S_SEG_SEL + seg] = sel;
  s[S_SEG_BASE + 2 * seg] = base;
  s[S_SEG_BASE + 2 * seg + 1] = 0;
  s[S_SEG_LIMIT + seg] = limit;
  s[S_SEG_ATTR + seg] = attr;
  if (seg === SEG_CS) cpu.updateMode();
}

/**
 * MOV/POP to a data segment register (DS, ES, FS, GS, SS) with the protected-mode checks. In 64-bit mode a
 * null selector is allowed for all but SS at CPL 3. FS/GS bases come from the descriptor (low 32 bits).
 */
export function loadDataSegment(cpu: X86Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  const cpl = cpu.cpl;
  if ((sel & 0xfffc) === 0) {
    if (seg === SEG_SS && (!cpu.mode64 || cpl === 3 || (sel & 3) !== cpl)) cpu.fault(EXC_GP, 0);
    // Null selector: in 64-bit mode the FS/GS bases are left alone only by WRMSR; a null load clears them
    // on Intel parts, which is what Linux expects when it loads 0 then writes the base MSR.
    setSegmentCache(cpu, seg, sel, 0, 0, 0);
    return;
  }
  const d = readDescriptor(cpu, sel);
  const rpl = sel & 3;
  if (seg === SEG_SS) {
    if (rpl !== cpl || d.dpl !== cpl || !d.s || d.code || (d.type & 2) === 0) cpu.fault(EXC_GP, sel & 0xfffc);
    if (!d.present) cpu.fault(EXC_SS, sel & 0xfffc);
  } else {
    // Data or readable code; for data and non-conforming code, max(CPL, RPL) <= DPL.
    if (!d.s || (d.code && (d.type & 2) === 0)) cpu.fault(EXC_GP, sel & 0xfffc);
    const conforming = d.code && (d.type & 4) !== 0;
    if (!conforming && (rpl > d.dpl || cpl > d.dpl)) cpu.fault(EXC_GP, sel & 0xfffc);
    if (!d.present) cpu.fault(EXC_NP, sel & 0xfffc);
  }
  setAccessed(cpu, sel, d);
  const base = seg === SEG_FS || seg === SEG_GS || !cpu.mode64 ? d.base : 0;
  setSegmentCache(cpu, seg, sel, base, d.limit, d.attr);
}

/** Load CS for a far transfer to privilege `newCpl` (descriptor already validated by the caller). */
export function loadCodeSegment(cpu: X86Cpu, sel: number, base: number, limit: number, attr: number, newCpl: number): void {
  setSegmentCache(cpu, SEG_CS, (sel & 0xfffc) | newCpl, base, limit, attr);
  cpu.setCpl(newCpl);
  cpu.updateMode();
}

/** The flat descriptors SYSCALL/SYSRET install (they do not read the GDT). */
export const ATTR_CODE64_KERNEL = 0xa09b; // P, DPL0, code, readable, accessed, L=1, G=1
export const ATTR_DATA_KERNEL = 0xc093; // P, DPL0, data, writable, accessed, D=1, G=1
export const ATTR_CODE64_USER = 0xa0fb;
export const ATTR_CODE32_USER = 0xc0fb;
export const ATTR_DATA_USER = 0xc0f3;
