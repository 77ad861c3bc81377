// Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR (C0/C1 imm8, D0/D1 by 1, D2/D3 by CL; /6 is an alias of
// SHL) and the double shifts SHLD/SHRD (0F A4/A5, 0F AC/AD).
//
// Semantics (Intel SDM vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD):
// - the count is masked to 5 bits (6 with REX.W); a masked count of 0 changes nothing, flags included;
// - SHL/SHR/SAR set SF, ZF, PF from the result, CF to the last bit shifted out, OF for 1-bit shifts (SHL: MSB of
//   the result XOR CF; SHR: MSB of the original; SAR: 0); AF is undefined (we clear it);
// - ROL/ROR change only CF and OF; 8/16-bit rotate by (count mod width), but CF is still written when the masked
//   count is a nonzero multiple of the width; RCL/RCR rotate through CF by (count mod width+1) for 8/16 bits;
// - SHLD/SHRD: CF is the last bit shifted out of the destination, OF is a sign change for 1-bit shifts, SF/ZF/PF
//   from the result. A 16-bit double shift by 17..31 is undefined (processors differ); we compute it as a shift
//   of the 48-bit value dst:src:dst.
// OF for counts other than 1 is undefined; we compute the 1-bit formula regardless.
// Flags: shifts write all six arithmetic flags eagerly (no materialisation needed); rotates set only CF/OF through
// setCfOf, which leaves the other four lazy (flags.ts LZ_ROT).
import { FLAG_SF, FLAG_ZF, FLAGS_ARITH, RCX } from '../constants.js';
import { lazyCF, LZ_NONE, PARITY, setCfOf } from '../flags.js';
import { S_LZ_OP, S_RFLAGS } from '../state.js';
import { MAP0F, MAP1, type Decoder } from '../decoder.js';
import type { Handler, Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, getReg, readMem, setReg, writeMem } from '../operands.js';

const OP_ROL = 0, OP_ROR = 1, OP_RCL = 2, OP_SHL = 4, OP_SHR = 5, OP_SAR = 7; // 3 is RCR, 6 decodes as SHL

// Results of the pair helpers and of the operations (high half of 64-bit values).
let tLo = 0, tHi = 0;
let resHi = 0;

/** (lo, hi) << n for n in 0..127 into tLo/tHi. */
function shl2(lo: number, hi: number, n: number): void {
  if (n === 0) { tLo = lo; tHi = hi; } else if (n < 32) { tHi = (hi << n) | (lo >>> (32 - n)); tLo = lo << n; } else if (n < 64) { tHi = lo << (n - 32); tLo = 0; } else { tLo = 0; tHi = 0; }
}

/** (lo, hi) >>> n (logical) for n in 0..127 into tLo/tHi. */
function shr2(lo: number, hi: number, n: number): void {
  if (n === 0) { tLo = lo; tHi = hi; } else if (n < 32) { tLo = (lo >>> n) | (hi << (32 - n)); tHi = hi >>> n; } else if (n < 64) { tLo = hi >>> (n - 32); tHi = 0; } else { tLo = 0; tHi = 0; }
}

/** (lo, hi) >> n (arithmetic) for n in 0..127 into tLo/tHi. */
function sar2(lo: number, hi: number, n: number): void {
  if (n === 0) { tLo = lo; tHi = hi; } else if (n < 32) { tLo = (lo >>> n) | (hi << (32 - n)); tHi = hi >> n; } else if (n < 64) { tLo = hi >> (n - 32); tHi = hi >> 31; } else { tLo = hi >> 31; tHi = tLo; }
}

/** Bit k (0..63) of (lo, hi). */
function bit2(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** Mask tLo/tHi to `size` bytes. */
function clip(size: number): void {
  if (size === 1) { tLo &= 0xff; tHi = 0; } else if (size === 2) { tLo &= 0xffff; tHi = 0; } else if (size === 4) tHi = 0;
}

/** SF, ZF, PF of a (lo, hi) result of `size` bytes (already clipped). */
function szp(size: number, lo: number, hi: number): number {
  let f = PARITY[lo & 0xff];
  if ((lo | hi) === 0) f |= FLAG_ZF;
  if (bit2(lo, hi, size * 8 - 1) !== 0) f |= FLAG_SF;
  return f;
}

/** Replace all six arithmetic flags. */
function putFlags(s: Int32Array, f: number): void {
  s[S_RFLAGS] = (s[S_RFLAGS] & ~FLAGS_ARITH) | f;
  s[S_LZ_OP] = LZ_NONE;
}

/**
 * Shift or rotate (lo, hi) of `size` bytes by the masked, nonzero count n; update the flags and return the low
 * half of the result (high half in resHi). `lo`/`hi` hold the operand zero-extended (hi 0 below 8 bytes).
 */
function shiftOp(s: Int32Array, op: number, size: number, lo: number, hi: number, n: number): number {
  const w = size * 8;
  switch (op) {
    case OP_SHL: {
      shl2(lo, hi, n); clip(size);
      const cf = n <= w ? bit2(lo, hi, w - n) : 0;
      const of = bit2(tLo, tHi, w - 1) ^ cf;
      putFlags(s, szp(size, tLo, tHi) | cf | (of << 11));
      break;
    }
    case OP_SHR: {
      shr2(lo, hi, n);
      const cf = n <= w ? bit2(lo, hi, n - 1) : 0;
      const of = bit2(lo, hi, w - 1);
      putFlags(s, szp(size, tLo, tHi) | cf | (of << 11));
      break;
    }
    case OP_SAR: {
      // Sign-extend to 64 bits; a count >= w leaves only copies of the sign, which is also the last bit out.
      let sl = lo, sh = hi;
      if (size === 1) { sl = (lo << 24) >> 24; sh = sl >> 31; } else if (size === 2) { sl = (lo << 16) >> 16; sh = sl >> 31; } else if (size === 4) sh = lo >> 31;
      const cf = bit2(sl, sh, n - 1 < w ? n - 1 : w - 1);
      sar2(sl, sh, n); clip(size);
      putFlags(s, szp(size, tLo, tHi) | cf);
      break;
    }
    case OP_ROL: case OP_ROR: {
      const r = size >= 4 ? n : n % w;
      if (r === 0) { tLo = lo; tHi = hi; } else {
        let aLo: number, aHi: number;
        if (op === OP_ROL) { shl2(lo, hi, r); aLo = tLo; aHi = tHi; shr2(lo, hi, w - r); } else { shr2(lo, hi, r); aLo = tLo; aHi = tHi; shl2(lo, hi, w - r); }
        tLo |= aLo; tHi |= aHi; clip(size);
      }
      const msb = bit2(tLo, tHi, w - 1);
      let cf: number, of: number;
      if (op === OP_ROL) { cf = tLo & 1; of = msb ^ cf; } else { cf = msb; of = msb ^ bit2(tLo, tHi, w - 2); }
      setCfOf(s, cf, of);
      break;
    }
    default: { // RCL, RCR: rotate the (w+1)-bit value CF:operand
      const r = size === 1 ? n % 9 : size === 2 ? n % 17 : n;
      if (r === 0) { tLo = lo; tHi = hi; break; } // nothing moves (a nonzero count that is a multiple of w+1)
      const c = lazyCF(s);
      let aLo: number, aHi: number, cf: number;
      if (op === OP_RCL) {
        shl2(lo, hi, r); aLo = tLo; aHi = tHi;
        shl2(c, 0, r - 1); aLo |= tLo; aHi |= tHi;
        shr2(lo, hi, w + 1 - r);
        cf = bit2(lo, hi, w - r);
      } else {
        shr2(lo, hi, r); aLo = tLo; aHi = tHi;
        shl2(c, 0, w - r); aLo |= tLo; aHi |= tHi;
        shl2(lo, hi, w + 1 - r);
        cf = bit2(lo, hi, r - 1);
      }
      tLo |= aLo; tHi |= aHi; clip(size);
      const msb = bit2(tLo, tHi, w - 1);
      const of = op === OP_RCL ? msb ^ cf : msb ^ bit2(tLo, tHi, w - 2);
      setCfOf(s, cf, of);
      break;
    }
  }
  resHi = tHi;
  return tLo;
}

/** Masked count of a shift: from CL (i.imm2 = 1) or the immediate / implicit 1. */
function count(cpu: X86Cpu, i: Insn): number {
  const c = i.imm2 !== 0 ? cpu.s[2 * RCX] : i.immLo;
  return c & (i.size === 8 ? 63 : 31);
}

function shiftR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, r = i.rm;
  const n = count(cpu, i);
  const lo = getReg(s, size, r), hi = size === 8 ? s[2 * r + 1] : 0;
  if (n === 0) {
    if (size === 4) s[2 * r + 1] = 0; // a 32-bit destination is written (zero-extended) even for a 0 count
    return;
  }
  const v = shiftOp(s, i.op, size, lo, hi, n);
  setReg(s, size, r, v, resHi);
}

function shiftM(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const lo = readMem(cpu, size), hi = size === 8 ? cpu.rdHi : 0;
  const n = count(cpu, i);
  if (n === 0) return;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, size);
  const v = shiftOp(cpu.s, i.op, size, size === 1 ? lo & 0xff : size === 2 ? lo & 0xffff : lo, hi, n);
  writeMem(cpu, size, v, resHi);
}

// Fast paths for the frequent forms on 64- and 32-bit registers: SHL/SHR/SAR/ROL/ROR by an immediate (RI: the
// decoder stores the masked, nonzero count in i.immLo) and by CL (RC). In a Linux boot most shifts and rotates
// are these (ROR/ROL r32, imm from the kernel's hashes and PRNG; SHL/SHR r64, CL), and the generic shiftR path
// (getReg/setReg by size, the op switch, the pair helpers) cost ~7% of the run.
// Each operation takes the register pair index k and the count n (1..63 or 1..31).

function shl64(s: Int32Array, k: number, n: number): void {
  const lo = s[k], hi = s[k + 1];
  shl2(lo, hi, n);
  s[k] = tLo; s[k + 1] = tHi;
  const cf = bit2(lo, hi, 64 - n);
  putFlags(s, szp(8, tLo, tHi) | cf | (((tHi >>> 31) ^ cf) << 11));
}

function shr64(s: Int32Array, k: number, n: number): void {
  const lo = s[k], hi = s[k + 1];
  shr2(lo, hi, n);
  s[k] = tLo; s[k + 1] = tHi;
  putFlags(s, szp(8, tLo, tHi) | bit2(lo, hi, n - 1) | ((hi >>> 31) << 11));
}

function sar64(s: Int32Array, k: number, n: number): void {
  const lo = s[k], hi = s[k + 1];
  sar2(lo, hi, n);
  s[k] = tLo; s[k + 1] = tHi;
  putFlags(s, szp(8, tLo, tHi) | bit2(lo, hi, n - 1));
}

function shl32(s: Int32Array, k: number, n: number): void {
  const v = s[k], r = v << n;
  s[k] = r; s[k + 1] = 0;
  const cf = (v >>> (32 - n)) & 1;
  let f = PARITY[r & 0xff] | cf | (((r >>> 31) ^ cf) << 11);
  if (r === 0) f |= FLAG_ZF;
  if (r < 0) f |= FLAG_SF;
  putFlags(s, f);
}

function shr32(s: Int32Array, k: number, n: number): void {
  const v = s[k], r = v >>> n;
  s[k] = r; s[k + 1] = 0;
  let f = PARITY[r & 0xff] | ((v >>> (n - 1)) & 1) | ((v >>> 31) << 11);
  if (r === 0) f |= FLAG_ZF;
  if ((r | 0) < 0) f |= FLAG_SF;
  putFlags(s, f);
}

function sar32(s: Int32Array, k: number, n: number): void {
  const v = s[k], r = v >> n;
  s[k] = r; s[k + 1] = 0;
  let f = PARITY[r & 0xff] | ((v >>> (n - 1)) & 1);
  if (r === 0) f |= FLAG_ZF;
  if (r < 0) f |= FLAG_SF;
  putFlags(s, f);
}

// Rotates: CF is the bit that wrapped around (ROL: the new bit 0; ROR: the new MSB); OF is MSB XOR CF (ROL) or
// the XOR of the two top bits (ROR).
function rol32(s: Int32Array, k: number, n: number): void {
  const v = s[k], r = (v << n) | (v >>> (32 - n));
  s[k] = r; s[k + 1] = 0;
  const cf = r & 1;
  setCfOf(s, cf, (r >>> 31) ^ cf);
}

function ror32(s: Int32Array, k: number, n: number): void {
  const v = s[k], r = (v >>> n) | (v << (32 - n));
  s[k] = r; s[k + 1] = 0;
  setCfOf(s, r >>> 31, ((r >>> 31) ^ (r >>> 30)) & 1);
}

function rol64(s: Int32Array, k: number, n: number): void {
  let lo = s[k], hi = s[k + 1];
  if (n >= 32) { const t = lo; lo = hi; hi = t; n -= 32; } // rotating by 32 swaps the halves
  if (n !== 0) { const t = (hi << n) | (lo >>> (32 - n)); lo = (lo << n) | (hi >>> (32 - n)); hi = t; }
  s[k] = lo; s[k + 1] = hi;
  const cf = lo & 1;
  setCfOf(s, cf, (hi >>> 31) ^ cf);
}

function ror64(s: Int32Array, k: number, n: number): void {
  let lo = s[k], hi = s[k + 1];
  if (n >= 32) { const t = lo; lo = hi; hi = t; n -= 32; }
  if (n !== 0) { const t = (lo >>> n) | (hi << (32 - n)); hi = (hi >>> n) | (lo << (32 - n)); lo = t; }
  s[k] = lo; s[k + 1] = hi;
  setCfOf(s, hi >>> 31, ((hi >>> 31) ^ (hi >>> 30)) & 1);
}

function shl64RI(cpu: X86Cpu, i: Insn): void { shl64(cpu.s, 2 * i.rm, i.immLo); }
function shr64RI(cpu: X86Cpu, i: Insn): void { shr64(cpu.s, 2 * i.rm, i.immLo); }
function sar64RI(cpu: X86Cpu, i: Insn): void { sar64(cpu.s, 2 * i.rm, i.immLo); }
function rol64RI(cpu: X86Cpu, i: Insn): void { rol64(cpu.s, 2 * i.rm, i.immLo); }
function ror64RI(cpu: X86Cpu, i: Insn): void { ror64(cpu.s, 2 * i.rm, i.immLo); }
function shl32RI(cpu: X86Cpu, i: Insn): void { shl32(cpu.s, 2 * i.rm, i.immLo); }
function shr32RI(cpu: X86Cpu, i: Insn): void { shr32(cpu.s, 2 * i.rm, i.immLo); }
function sar32RI(cpu: X86Cpu, i: Insn): void { sar32(cpu.s, 2 * i.rm, i.immLo); }
function rol32RI(cpu: X86Cpu, i: Insn): void { rol32(cpu.s, 2 * i.rm, i.immLo); }
function ror32RI(cpu: X86Cpu, i: Insn): void { ror32(cpu.s, 2 * i.rm, i.immLo); }

// By CL: a masked count of 0 changes no flag; a 32-bit destination is still written (zero-extended).
function shl64RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 63; if (n !== 0) shl64(s, 2 * i.rm, n); }
function shr64RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 63; if (n !== 0) shr64(s, 2 * i.rm, n); }
function sar64RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 63; if (n !== 0) sar64(s, 2 * i.rm, n); }
function rol64RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 63; if (n !== 0) rol64(s, 2 * i.rm, n); }
function ror64RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 63; if (n !== 0) ror64(s, 2 * i.rm, n); }
function shl32RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 31; if (n !== 0) shl32(s, 2 * i.rm, n); else s[2 * i.rm + 1] = 0; }
function shr32RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 31; if (n !== 0) shr32(s, 2 * i.rm, n); else s[2 * i.rm + 1] = 0; }
function sar32RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 31; if (n !== 0) sar32(s, 2 * i.rm, n); else s[2 * i.rm + 1] = 0; }
function rol32RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 31; if (n !== 0) rol32(s, 2 * i.rm, n); else s[2 * i.rm + 1] = 0; }
function ror32RC(cpu: X86Cpu, i: Insn): void { const s = cpu.s, n = s[2 * RCX] & 31; if (n !== 0) ror32(s, 2 * i.rm, n); else s[2 * i.rm + 1] = 0; }

/** Fast handlers by op (ROL, ROR, -, -, SHL, SHR, -, SAR): [imm 64, imm 32, CL 64, CL 32]. */
const FAST: (readonly [Handler, Handler, Handler, Handler] | null)[] = [
  [rol64RI, rol32RI, rol64RC, rol32RC], [ror64RI, ror32RI, ror64RC, ror32RC], null, null,
  [shl64RI, shl32RI, shl64RC, shl32RC], [shr64RI, shr32RI, shr64RC, shr32RC], null,
  [sar64RI, sar32RI, sar64RC, sar32RC],
];

// ---- SHLD / SHRD

/** Double shift of dst (lo, hi) with bits from src, `size` bytes, masked nonzero count n; sets flags. */
function dshift(s: Int32Array, right: boolean, size: number, dLo: number, dHi: number, sLo: number, sHi: number, n: number): number {
  const w = size * 8;
  let cf: number;
  if (size === 2) {
    // 48-bit dst:src:dst (exact in a double); SHLD takes bits 32-n..47-n, SHRD bits n..n+15.
    const d = dLo & 0xffff, x = d * 4294967296 + (sLo & 0xffff) * 65536 + d;
    const sh = right ? n : 32 - n;
    tLo = Math.floor(x / 2 ** sh) % 65536;
    tHi = 0;
    const cb = right ? n - 1 : 48 - n;
    cf = Math.floor(x / 2 ** cb) % 2;
  } else if (right) {
    shr2(dLo, dHi, n); const aLo = tLo, aHi = tHi;
    shl2(sLo, sHi, w - n); tLo |= aLo; tHi |= aHi;
    cf = bit2(dLo, dHi, n - 1);
  } else {
    shl2(dLo, dHi, n); const aLo = tLo, aHi = tHi;
    shr2(sLo, size === 8 ? sHi : 0, w - n); tLo |= aLo; tHi |= aHi;
    cf = bit2(dLo, dHi, w - n);
  }
  clip(size);
  const of = bit2(tLo, tHi, w - 1) ^ bit2(dLo, dHi, w - 1);
  putFlags(s, szp(size, tLo, tHi) | cf | (of << 11));
  resHi = tHi;
  return tLo;
}

function dshiftR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, r = i.rm, src = i.reg;
  const n = count(cpu, i);
  if (n === 0) {
    if (size === 4) s[2 * r + 1] = 0;
    return;
  }
  const v = dshift(s, i.op !== 0, size, getReg(s, size, r), size === 8 ? s[2 * r + 1] : 0,
    getReg(s, size, src), size === 8 ? s[2 * src + 1] : 0, n);
  setReg(s, size, r, v, resHi);
}

function dshiftM(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, src = i.reg;
  ea(cpu, i);
  const lo = readMem(cpu, size), hi = size === 8 ? cpu.rdHi : 0;
  const n = count(cpu, i);
  if (n === 0) return;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, size);
  const v = dshift(s, i.op !== 0, size, lo, hi, getReg(s, size, src), size === 8 ? s[2 * src + 1] : 0, n);
  writeMem(cpu, size, v, resHi);
}

// ---- decoding

function decShift(d: Decoder, i: Insn): void {
  const opc = i.opcode;
  if (opc === 0xc0 || opc === 0xd0 || opc === 0xd2) i.size = 1;
  d.modrm(i);
  i.op = i.reg & 7;
  if (i.op === 6) i.op = OP_SHL; // /6: SAL alias
  if (opc === 0xc0 || opc === 0xc1) { i.immLo = d.byte(); i.imm2 = 0; }
  else if (opc === 0xd0 || opc === 0xd1) { i.immLo = 1; i.imm2 = 0; }
  else { i.immLo = 0; i.imm2 = 1; }
  if (i.rm < 0) { i.exec = shiftM; return; }
  if (i.size === 1) i.rm = d.breg(i.rm);
  i.exec = shiftR;
  const fast = FAST[i.op];
  if (fast === null || (i.size !== 8 && i.size !== 4)) return;
  if (i.imm2 !== 0) { i.exec = fast[i.size === 8 ? 2 : 3]; return; }
  const n = i.immLo & (i.size === 8 ? 63 : 31);
  if (n !== 0) { // a masked count of 0 stays on shiftR (it still zero-extends a 32-bit destination)
    i.immLo = n;
    i.exec = fast[i.size === 8 ? 0 : 1];
  }
}

function decDshift(d: Decoder, i: Insn): void {
  const opc = i.opcode & 0xff;
  d.modrm(i);
  i.op = opc >= 0xac ? 1 : 0; // SHRD : SHLD
  if ((opc & 1) === 0) { i.immLo = d.byte(); i.imm2 = 0; } else { i.immLo = 0; i.imm2 = 1; }
  i.exec = i.rm >= 0 ? dshiftR : dshiftM;
}

for (const op of [0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3]) MAP1[op] = decShift;
MAP0F[0xa4] = decDshift;
MAP0F[0xa5] = decDshift;
MAP0F[0xac] = decDshift;
MAP0F[0xad] = decDshift;

