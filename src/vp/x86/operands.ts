// Operand access shared by the instruction groups: registers by size (with AH..BH), effective addresses,
// r/m operands, the stack. 64-bit values travel as (lo, hi): functions return the low half and leave the high
// half in cpu.rdHi (reads) or take it as a parameter (writes).
import { RSP, SEG_FS, SEG_GS, SEG_SS } from './constants.js';
import { S_SEG_BASE, S_SEG_ATTR } from './state.js';
import type { Insn } from './insn.js';
import type { X86Cpu } from './cpu.js';

/** Read register `r` (0..15, or 16..19 for AH..BH with size 1) zero-extended to 32 bits (low half for size 8). */
export function getReg(s: Int32Array, size: number, r: number): number {
  switch (size) {
    case 1: return r >= 16 ? (s[2 * (r - 16)] >> 8) & 0xff : s[2 * r] & 0xff;
    case 2: return s[2 * r] & 0xffff;
    default: return s[2 * r];
  }
}

/** Write register `r` with the x86 rules: 8/16-bit writes merge, 32-bit writes zero the upper half. */
export function setReg(s: Int32Array, size: number, r: number, v: number, vHi: number): void {
  switch (size) {
    case 1:
      if (r >= 16) { const k = 2 * (r - 16); s[k] = (s[k] & ~0xff00) | ((v & 0xff) << 8); }
      else s[2 * r] = (s[2 * r] & ~0xff) | (v & 0xff);
      return;
    case 2: s[2 * r] = (s[2 * r] & ~0xffff) | (v & 0xffff); return;
    case 4: s[2 * r] = v; s[2 * r + 1] = 0; return;
    default: s[2 * r] = v; s[2 * r + 1] = vHi; return;
  }
}

/** Compute the memory operand's linear address into cpu.eaLo/eaHi. */
export function ea(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  let lo = i.disp;
  let hi = lo >> 31;
  const b = i.base;
  if (b >= 0) {
    const t = (lo >>> 0) + (s[2 * b] >>> 0);
    lo = t | 0;
    hi = (hi + s[2 * b + 1] + (t > 0xffffffff ? 1 : 0)) | 0;
  } else if (i.ripRel) {
    const t = (lo >>> 0) + (cpu.nipLo >>> 0);
    lo = t | 0;
    hi = (hi + cpu.nipHi + (t > 0xffffffff ? 1 : 0)) | 0;
  }
  const x = i.index;
  if (x >= 0) {
    const sc = i.scale;
    let xl = s[2 * x], xh = s[2 * x + 1];
    if (sc !== 0) { xh = (xh << sc) | (xl >>> (32 - sc)); xl <<= sc; }
    const t = (lo >>> 0) + (xl >>> 0);
    lo = t | 0;
    hi = (hi + xh + (t > 0xffffffff ? 1 : 0)) | 0;
  }
  if (i.asize !== 8) {
    hi = 0;
    if (i.asize === 2) lo &= 0xffff;
  }
  const seg = i.seg;
  if (seg === SEG_FS || seg === SEG_GS) {
    const t = (lo >>> 0) + (s[S_SEG_BASE + 2 * seg] >>> 0);
    lo = t | 0;
    hi = (hi + s[S_SEG_BASE + 2 * seg + 1] + (t > 0xffffffff ? 1 : 0)) | 0;
    if (!cpu.mode64) hi = 0;
  }
  cpu.eaLo = lo;
  cpu.eaHi = hi;
}

/** Read a memory operand of `size` at cpu.eaLo/eaHi. */
export function readMem(cpu: X86Cpu, size: number): number {
  switch (size) {
    case 1: return cpu.read8(cpu.eaLo, cpu.eaHi);
    case 2: return cpu.read16(cpu.eaLo, cpu.eaHi);
    case 4: return cpu.read32(cpu.eaLo, cpu.eaHi);
    default: return cpu.read64(cpu.eaLo, cpu.eaHi);
  }
}

export function writeMem(cpu: X86Cpu, size: number, v: number, vHi: number): void {
  switch (size) {
    case 1: cpu.write8(cpu.eaLo, cpu.eaHi, v); return;
    case 2: cpu.write16(cpu.eaLo, cpu.eaHi, v); return;
    case 4: cpu.write32(cpu.eaLo, cpu.eaHi, v); return;
    default: cpu.write64(cpu.eaLo, cpu.eaHi, v, vHi); return;
  }
}

/** Read the r/m operand (register or memory; for memory, ea is computed here). High half in cpu.rdHi. */
export function readRM(cpu: X86Cpu, i: Insn, size: number): number {
  if (i.rm >= 0) {
    const s = cpu.s;
    cpu.rdHi = size === 8 ? s[2 * i.rm + 1] : 0;
    return getReg(s, size, i.rm);
  }
  ea(cpu, i);
  const v = readMem(cpu, size);
  if (size !== 8) cpu.rdHi = 0;
  return v;
}

/** Write the r/m operand; for memory, uses the ea computed by a preceding readRM/ea. */
export function writeRM(cpu: X86Cpu, i: Insn, size: number, v: number, vHi: number): void {
  if (i.rm >= 0) setReg(cpu.s, size, i.rm, v, vHi);
  else writeMem(cpu, size, v, vHi);
}

/** Stack address size: 64-bit in 64-bit mode, else from SS.B. */
function stackIs64(cpu: X86Cpu): boolean {
  return cpu.mode64;
}

/** Push a value of `size` (2, 4 or 8) onto the stack. Memory is written before RSP changes (precise #PF). */
export function push(cpu: X86Cpu, size: number, v: number, vHi: number): void {
  const s = cpu.s;
  let lo = s[2 * RSP], hi = s[2 * RSP + 1];
  if (stackIs64(cpu)) {
    const nl = (lo - size) | 0;
    hi = (nl >>> 0) > (lo >>> 0) ? (hi - 1) | 0 : hi;
    lo = nl;
  } else {
    lo = (s[S_SEG_ATTR + SEG_SS] & 0x4000) !== 0 ? (lo - size) | 0 : (lo & ~0xffff) | ((lo - size) & 0xffff);
    hi = 0;
  }
  const aLo = stackIs64(cpu) || (s[S_SEG_ATTR + SEG_SS] & 0x4000) !== 0 ? lo : lo & 0xffff;
  cpu.stackAccess = true; // a fault unwinds to the run loop, which clears it
  switch (size) {
    case 8: cpu.write64(aLo, hi, v, vHi); break;
    case 4: cpu.write32(aLo, hi, v); break;
    default: cpu.write16(aLo, hi, v); break;
  }
  cpu.stackAccess = false;
  s[2 * RSP] = lo;
  if (stackIs64(cpu)) s[2 * RSP + 1] = hi;
}

/** Read the value at the top of the stack (size 2, 4, 8) without popping; high half in cpu.rdHi. */
export function peek(cpu: X86Cpu, size: number, offset = 0): number {
  const s = cpu.s;
  let lo = (s[2 * RSP] + offset) | 0;
  let hi = s[2 * RSP + 1];
  if (stackIs64(cpu)) {
    if ((lo >>> 0) < (s[2 * RSP] >>> 0) && offset > 0) hi = (hi + 1) | 0;
  } else {
    hi = 0;
    if ((s[S_SEG_ATTR + SEG_SS] & 0x4000) === 0) lo &= 0xffff;
  }
  cpu.stackAccess = true;
  let v: number;
  switch (size) {
    case 8: v = cpu.read64(lo, hi); break;
    case 4: cpu.rdHi = 0; v = cpu.read32(lo, hi); break;
    default: cpu.rdHi = 0; v = cpu.read16(lo, hi); break;
  }
  cpu.stackAccess = false;
  return v;
}

/** Drop `size` bytes from the stack. */
export function adjustSp(cpu: X86Cpu, size: number): void {
  const s = cpu.s;
  const lo = s[2 * RSP];
  if (stackIs64(cpu)) {
    const nl = (lo + size) | 0;
    if ((nl >>> 0) < (lo >>> 0) && size > 0) s[2 * RSP + 1] = (s[2 * RSP + 1] + 1) | 0;
    else if ((nl >>> 0) > (lo >>> 0) && size < 0) s[2 * RSP + 1] = (s[2 * RSP + 1] - 1) | 0;
    s[2 * RSP] = nl;
  } else if ((s[S_SEG_ATTR + SEG_SS] & 0x4000) !== 0) {
    s[2 * RSP] = (lo + size) | 0;
  } else {
    s[2 * RSP] = (lo & ~0xffff) | ((lo + size) & 0xffff);
  }
}

/** Pop: read then adjust (so a faulting read leaves RSP unchanged). */
export function pop(cpu: X86Cpu, size: number): number {
  const v = peek(cpu, size);
  adjustSp(cpu, size);
  return v;
}

/** Set the next RIP (for branches); in compatibility mode addresses are 32-bit. */
export function jumpTo(cpu: X86Cpu, lo: number, hi: number): void {
  cpu.nipLo = lo;
  cpu.nipHi = cpu.mode64 ? hi : 0;
}

/** Add a sign-extended 32-bit displacement to the next RIP (relative branches), honouring operand size. */
export function jumpRel(cpu: X86Cpu, i: Insn, rel: number): void {
  const lo = cpu.nipLo;
  const t = (lo >>> 0) + (rel >>> 0);
  let nl = t | 0;
  let nh = (cpu.nipHi + (rel >> 31) + (t > 0xffffffff ? 1 : 0)) | 0;
  if (i.size === 2) { nl &= 0xffff; nh = 0; }
  if (!cpu.mode64) nh = 0;
  cpu.nipLo = nl;
  cpu.nipHi = nh;
}
