// Atomic read-modify-write instructions: CMPXCHG (0F B0/B1), XADD (0F C0/C1), CMPXCHG8B / CMPXCHG16B
// (0F C7 /1, REX.W for 16B), and the rest of group 9: RDRAND (/6) and RDSEED (/7) are not reported by our CPUID
// and raise #UD, as does every other 0F C7 form.
//
// The processor is one thread of control, so LOCK needs no work: decode functions accept it on the memory forms
// (clear i.lock) and the decoder turns it into #UD elsewhere. Memory destinations are always written (CMPXCHG
// writes the old value back when the comparison fails, as the hardware's locked cycle does), so writability is
// checked before any register or flag changes.
import { EXC_GP, FLAG_ZF, RAX, RBX, RCX, RDX } from '../constants.js';
import { LZ_ADD, LZ_SUB, setArithFlags } from '../flags.js';
import { S_LZ_DST, S_LZ_OP, S_LZ_RES, S_LZ_SIZE, S_LZ_SRC } from '../state.js';
import { MAP0F, opUD, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, getReg, readMem, setReg, writeMem } from '../operands.js';

/** Record lazy flags for dst - src (SUB) or dst + src (ADD); returns the low half, high half in resHi. */
let resHi = 0;
function arith(s: Int32Array, add: boolean, size: number, d: number, dH: number, v: number, vH: number): number {
  let r: number, rH = 0;
  if (add) {
    const t = (d >>> 0) + (v >>> 0);
    r = t | 0;
    if (size === 8) rH = (dH + vH + (t > 0xffffffff ? 1 : 0)) | 0;
  } else {
    const t = (d >>> 0) - (v >>> 0);
    r = t | 0;
    if (size === 8) rH = (dH - vH - (t < 0 ? 1 : 0)) | 0;
  }
  s[S_LZ_OP] = add ? LZ_ADD : LZ_SUB;
  s[S_LZ_SIZE] = size;
  s[S_LZ_DST] = d; s[S_LZ_DST + 1] = dH;
  s[S_LZ_SRC] = v; s[S_LZ_SRC + 1] = vH;
  s[S_LZ_RES] = r; s[S_LZ_RES + 1] = rH;
  resHi = rH;
  return r;
}

/** Equality of two values of `size` (low halves already masked by getReg/readMem for sizes below 8). */
function equal(size: number, a: number, aH: number, b: number, bH: number): boolean {
  return a === b && (size !== 8 || aH === bH);
}

// ---------------------------------------------------------------- CMPXCHG

/** CMPXCHG r/m, r with a register destination (i.rm) and source (i.reg). */
function cmpxchgRR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const acc = getReg(s, size, RAX), accH = size === 8 ? s[2 * RAX + 1] : 0;
  const d = getReg(s, size, i.rm), dH = size === 8 ? s[2 * i.rm + 1] : 0;
  arith(s, false, size, acc, accH, d, dH);
  // Only the register actually written is zero-extended by a 32-bit operation.
  if (equal(size, acc, accH, d, dH)) setReg(s, size, i.rm, getReg(s, size, i.reg), s[2 * i.reg + 1]);
  else setReg(s, size, RAX, d, dH);
}

function cmpxchgMR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  ea(cpu, i);
  const d = readMem(cpu, size), dH = size === 8 ? cpu.rdHi : 0;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, size);
  const acc = getReg(s, size, RAX), accH = size === 8 ? s[2 * RAX + 1] : 0;
  arith(s, false, size, acc, accH, d, dH);
  if (equal(size, acc, accH, d, dH)) {
    writeMem(cpu, size, getReg(s, size, i.reg), s[2 * i.reg + 1]);
  } else {
    writeMem(cpu, size, d, dH);
    setReg(s, size, RAX, d, dH);
  }
}

// ---------------------------------------------------------------- XADD

/** XADD r/m, r: TEMP = DEST + SRC; SRC = DEST; DEST = TEMP (so XADD r, r leaves the sum). */
function xaddRR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const d = getReg(s, size, i.rm), dH = size === 8 ? s[2 * i.rm + 1] : 0;
  const v = getReg(s, size, i.reg), vH = size === 8 ? s[2 * i.reg + 1] : 0;
  const r = arith(s, true, size, d, dH, v, vH), rH = resHi;
  setReg(s, size, i.reg, d, dH);
  setReg(s, size, i.rm, r, rH);
}

function xaddMR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  ea(cpu, i);
  const d = readMem(cpu, size), dH = size === 8 ? cpu.rdHi : 0;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, size);
  const v = getReg(s, size, i.reg), vH = size === 8 ? s[2 * i.reg + 1] : 0;
  const r = arith(s, true, size, d, dH, v, vH);
  writeMem(cpu, size, r, resHi);
  setReg(s, size, i.reg, d, dH);
}

// ---------------------------------------------------------------- CMPXCHG8B / CMPXCHG16B

/**
 * CMPXCHG8B m64: compare EDX:EAX with m64; equal: ZF=1, m64 = ECX:EBX; else ZF=0, EDX:EAX = m64 (32-bit
 * register writes, zero-extended). Only ZF changes.
 */
function cmpxchg8b(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  ea(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  const mLo = cpu.read64(lo, hi), mHi = cpu.rdHi;
  cpu.probeWrite(lo, hi, 8);
  if (mLo === s[2 * RAX] && mHi === s[2 * RDX]) {
    setArithFlags(s, FLAG_ZF, FLAG_ZF);
    cpu.write64(lo, hi, s[2 * RBX], s[2 * RCX]);
  } else {
    setArithFlags(s, 0, FLAG_ZF);
    cpu.write64(lo, hi, mLo, mHi);
    setReg(s, 4, RAX, mLo, 0);
    setReg(s, 4, RDX, mHi, 0);
  }
}

/** CMPXCHG16B m128 (REX.W): RDX:RAX against m128, RCX:RBX stored when equal; the operand must be 16-aligned. */
function cmpxchg16b(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  ea(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  if ((lo & 15) !== 0) cpu.fault(EXC_GP, 0);
  const lo8 = (lo + 8) | 0;
  const hi8 = (lo8 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  const m0 = cpu.read64(lo, hi), m1 = cpu.rdHi;
  const m2 = cpu.read64(lo8, hi8), m3 = cpu.rdHi;
  cpu.probeWrite(lo, hi, 16);
  if (m0 === s[2 * RAX] && m1 === s[2 * RAX + 1] && m2 === s[2 * RDX] && m3 === s[2 * RDX + 1]) {
    setArithFlags(s, FLAG_ZF, FLAG_ZF);
    cpu.write64(lo, hi, s[2 * RBX], s[2 * RBX + 1]);
    cpu.write64(lo8, hi8, s[2 * RCX], s[2 * RCX + 1]);
  } else {
    setArithFlags(s, 0, FLAG_ZF);
    cpu.write64(lo, hi, m0, m1);
    cpu.write64(lo8, hi8, m2, m3);
    s[2 * RAX] = m0; s[2 * RAX + 1] = m1;
    s[2 * RDX] = m2; s[2 * RDX + 1] = m3;
  }
}

// ---------------------------------------------------------------- decoding

function decCmpxchg(d: Decoder, i: Insn): void {
  if (i.opcode === 0x0fb0) i.size = 1;
  d.modrm(i);
  if (i.size === 1) i.reg = d.breg(i.reg);
  if (i.rm >= 0) {
    if (i.size === 1) i.rm = d.breg(i.rm);
    i.exec = cmpxchgRR;
    return;
  }
  i.lock = false;
  i.exec = cmpxchgMR;
}

function decXadd(d: Decoder, i: Insn): void {
  if (i.opcode === 0x0fc0) i.size = 1;
  d.modrm(i);
  if (i.size === 1) i.reg = d.breg(i.reg);
  if (i.rm >= 0) {
    if (i.size === 1) i.rm = d.breg(i.rm);
    i.exec = xaddRR;
    return;
  }
  i.lock = false;
  i.exec = xaddMR;
}

/** Group 9 (0F C7): /1 CMPXCHG8B/16B with a memory operand; everything else (RDRAND, RDSEED, ...) is #UD. */
function decGroup9(d: Decoder, i: Insn): void {
  d.modrm(i);
  if ((i.reg & 7) !== 1 || i.rm >= 0) { i.exec = opUD; return; }
  i.lock = false;
  i.exec = d.rexW ? cmpxchg16b : cmpxchg8b;
}

MAP0F[0xb0] = decCmpxchg;
MAP0F[0xb1] = decCmpxchg;
MAP0F[0xc0] = decXadd;
MAP0F[0xc1] = decXadd;
MAP0F[0xc7] = decGroup9;
