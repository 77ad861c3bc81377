// Bit instructions: BT/BTS/BTR/BTC (0F A3/AB/B3/BB with a register bit offset, 0F BA /4../7 with imm8),
// BSF/BSR (0F BC/BD) with F3 0F BC (TZCNT) and F3 0F BD (LZCNT) executing as BSF/BSR, POPCNT (F3 0F B8) as #UD,
// BSWAP (0F C8..CF), XLAT (D7).
//
// Our CPUID reports neither BMI1 (TZCNT) nor ABM/LZCNT nor POPCNT, so we behave like a processor that predates
// them: the F3 prefix on 0F BC/BD is ignored (what pre-BMI parts do, and what software probing with TZCNT
// relies on) and F3 0F B8 is #UD.
//
// Flags where the SDM says "undefined" follow the reference processor the differential tests run on (AMD):
// BT* change only CF; BSF/BSR clear CF, OF, SF, AF, set PF from the result (from 0 when the source is 0) and set
// ZF when the source is 0, in which case the destination is left unchanged (all 64 bits of it, also for the
// 32-bit form).
import { FLAG_CF, FLAG_PF, FLAG_ZF, FLAGS_ARITH, RAX, RBX, SEG_FS, SEG_GS } from '../constants.js';
import { PARITY, setArithFlags } from '../flags.js';
import { S_SEG_BASE } from '../state.js';
import { MAP0F, MAP1, opUD, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, readRM, setReg } from '../operands.js';

const BT = 0, BTS = 1, BTR = 2, BTC = 3;

// ---------------------------------------------------------------- BT family

/** Apply BTS/BTR/BTC to a 32-bit word: returns the new word. */
function modify(op: number, v: number, mask: number): number {
  switch (op) {
    case BTS: return v | mask;
    case BTR: return v & ~mask;
    case BTC: return v ^ mask;
    default: return v;
  }
}

/** Register base: bit offset `off` (already reduced modulo the width by the caller or not: masked here). */
function btReg(cpu: X86Cpu, i: Insn, off: number): void {
  const s = cpu.s, size = i.size, r = i.rm, op = i.op;
  let k: number, bit: number;
  if (size === 8) { bit = off & 63; k = 2 * r + (bit >> 5); bit &= 31; }
  else { bit = off & (size * 8 - 1); k = 2 * r; }
  const mask = 1 << bit;
  const v = s[k];
  setArithFlags(s, (v & mask) !== 0 ? FLAG_CF : 0, FLAG_CF);
  if (op === BT) return;
  const nv = modify(op, v, mask);
  if (size === 8) s[k] = nv;
  else setReg(s, size, r, nv, 0); // 16-bit merges, 32-bit zero-extends
}

function btRR(cpu: X86Cpu, i: Insn): void {
  btReg(cpu, i, cpu.s[2 * i.reg]);
}

function btRI(cpu: X86Cpu, i: Insn): void {
  btReg(cpu, i, i.immLo);
}

/**
 * Memory base: the operand-size word at linear (lo, hi) holds the bit. Reads (and for BTS/BTR/BTC checks the
 * word is writable) before changing CF, so a fault leaves flags and memory untouched.
 */
function btMem(cpu: X86Cpu, i: Insn, lo: number, hi: number, bit: number): void {
  const s = cpu.s, op = i.op;
  switch (i.size) {
    case 2: {
      const v = cpu.read16(lo, hi);
      if (op !== BT) cpu.probeWrite(lo, hi, 2);
      const mask = 1 << (bit & 15);
      setArithFlags(s, (v & mask) !== 0 ? FLAG_CF : 0, FLAG_CF);
      if (op !== BT) cpu.write16(lo, hi, modify(op, v, mask));
      return;
    }
    case 4: {
      const v = cpu.read32(lo, hi);
      if (op !== BT) cpu.probeWrite(lo, hi, 4);
      const mask = 1 << (bit & 31);
      setArithFlags(s, (v & mask) !== 0 ? FLAG_CF : 0, FLAG_CF);
      if (op !== BT) cpu.write32(lo, hi, modify(op, v, mask));
      return;
    }
    default: {
      let vLo = cpu.read64(lo, hi), vHi = cpu.rdHi;
      if (op !== BT) cpu.probeWrite(lo, hi, 8);
      const mask = 1 << (bit & 31);
      const w = (bit & 32) !== 0 ? vHi : vLo;
      setArithFlags(s, (w & mask) !== 0 ? FLAG_CF : 0, FLAG_CF);
      if (op === BT) return;
      if ((bit & 32) !== 0) vHi = modify(op, vHi, mask);
      else vLo = modify(op, vLo, mask);
      cpu.write64(lo, hi, vLo, vHi);
    }
  }
}

/** BT* m, imm8: the offset is taken modulo the operand width, no address adjustment. */
function btMI(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  btMem(cpu, i, cpu.eaLo, cpu.eaHi, i.immLo);
}

/**
 * BT* m, r: the register is a signed bit offset of the operand size that may reach outside the operand. The
 * word accessed is at EA + (offset SAR log2(width)) * (width / 8), i.e. EA + ((offset SAR 3) AND NOT(bytes-1)).
 */
function btMR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, r = i.reg;
  let oLo: number, oHi: number;
  switch (size) {
    case 2: oLo = (s[2 * r] << 16) >> 16; oHi = oLo >> 31; break;
    case 4: oLo = s[2 * r]; oHi = oLo >> 31; break;
    default: oLo = s[2 * r]; oHi = s[2 * r + 1]; break;
  }
  // Byte displacement of the word: 64-bit arithmetic shift right by 3, aligned down to the operand size.
  const dLo = ((oHi << 29) | (oLo >>> 3)) & ~(size - 1);
  const dHi = oHi >> 3;
  ea(cpu, i);
  let lo: number, hi: number;
  if (i.asize === 8) {
    const t = (cpu.eaLo >>> 0) + (dLo >>> 0);
    lo = t | 0;
    hi = (cpu.eaHi + dHi + (t > 0xffffffff ? 1 : 0)) | 0;
  } else {
    // The offset wraps within the address size; then the FS/GS base (if any) applies again.
    let bLo = 0, bHi = 0;
    if (i.seg === SEG_FS || i.seg === SEG_GS) { bLo = s[S_SEG_BASE + 2 * i.seg]; bHi = s[S_SEG_BASE + 2 * i.seg + 1]; }
    let off = (cpu.eaLo - bLo + dLo) | 0;
    if (i.asize === 2) off &= 0xffff;
    const t = (off >>> 0) + (bLo >>> 0);
    lo = t | 0;
    hi = cpu.mode64 ? (bHi + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  }
  btMem(cpu, i, lo, hi, oLo);
}

// ---------------------------------------------------------------- BSF / BSR

/** Index of the lowest set bit of a nonzero 32-bit value. */
function lowBit(v: number): number {
  return 31 - Math.clz32(v & -v);
}

function bsfBsr(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  let lo = readRM(cpu, i, size);
  let hi = cpu.rdHi;
  if (size === 2) lo &= 0xffff;
  else if (size === 4) hi = 0;
  const s = cpu.s;
  if (lo === 0 && hi === 0) {
    setArithFlags(s, FLAG_ZF | FLAG_PF, FLAGS_ARITH); // destination unchanged
    return;
  }
  let idx: number;
  if (i.op === 0) idx = lo !== 0 ? lowBit(lo) : 32 + lowBit(hi); // BSF
  else idx = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo); // BSR
  setArithFlags(s, PARITY[idx], FLAGS_ARITH);
  setReg(s, size, i.reg, idx, 0);
}

// ---------------------------------------------------------------- BSWAP, XLAT

function bswap32(v: number): number {
  return ((v >>> 24) | ((v >> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24)) | 0;
}

function bswap(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, k = 2 * i.reg;
  switch (i.size) {
    case 8: { const lo = s[k]; s[k] = bswap32(s[k + 1]); s[k + 1] = bswap32(lo); return; }
    case 4: s[k] = bswap32(s[k]); s[k + 1] = 0; return;
    // 16-bit operand: undefined in the SDM; Intel and AMD parts (and the reference host) clear the low word.
    default: s[k] &= ~0xffff; return;
  }
}

/** XLAT: AL = [seg:rBX + AL] (DS unless overridden; the sum wraps within the address size). */
function xlat(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const al = s[2 * RAX] & 0xff;
  let lo: number, hi: number;
  if (i.asize === 8) {
    const t = (s[2 * RBX] >>> 0) + al;
    lo = t | 0;
    hi = (s[2 * RBX + 1] + (t > 0xffffffff ? 1 : 0)) | 0;
  } else {
    lo = (s[2 * RBX] + al) | 0;
    if (i.asize === 2) lo &= 0xffff;
    hi = 0;
  }
  if (i.seg === SEG_FS || i.seg === SEG_GS) {
    const t = (lo >>> 0) + (s[S_SEG_BASE + 2 * i.seg] >>> 0);
    lo = t | 0;
    hi = cpu.mode64 ? (hi + s[S_SEG_BASE + 2 * i.seg + 1] + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  }
  setReg(s, 1, RAX, cpu.read8(lo, hi), 0);
}

// ---------------------------------------------------------------- decoding

/** BT/BTS/BTR/BTC r/m, r: 0F A3 / AB / B3 / BB. */
function decBtR(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.op = (i.opcode >> 3) & 3; // A3 -> 0, AB -> 1, B3 -> 2, BB -> 3
  if (i.rm >= 0) { i.exec = btRR; return; }
  if (i.op !== BT) i.lock = false; // LOCK BTS/BTR/BTC on memory
  i.exec = btMR;
}

/** Group 8: 0F BA /4 BT, /5 BTS, /6 BTR, /7 BTC with imm8; /0../3 are undefined. */
function decBtI(d: Decoder, i: Insn): void {
  d.modrm(i);
  const sub = i.reg & 7;
  i.immLo = d.byte();
  if (sub < 4) { i.exec = opUD; return; }
  i.op = sub - 4;
  if (i.rm >= 0) { i.exec = btRI; return; }
  if (i.op !== BT) i.lock = false;
  i.exec = btMI;
}

/** 0F BC BSF, 0F BD BSR; with F3 (TZCNT/LZCNT, not reported) the prefix is ignored. */
function decBsfBsr(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.op = i.opcode & 1;
  i.exec = bsfBsr;
}

function decBswap(d: Decoder, i: Insn): void {
  i.reg = (i.opcode & 7) | (d.rexB << 3);
  i.exec = bswap;
}

function decXlat(_d: Decoder, i: Insn): void {
  i.exec = xlat;
}

/** 0F B8: POPCNT with F3 (not reported by our CPUID), JMPE otherwise (IA-64 only): #UD either way. */
function decPopcnt(_d: Decoder, i: Insn): void {
  i.exec = opUD;
}

MAP0F[0xa3] = decBtR;
MAP0F[0xab] = decBtR;
MAP0F[0xb3] = decBtR;
MAP0F[0xbb] = decBtR;
MAP0F[0xba] = decBtI;
MAP0F[0xbc] = decBsfBsr;
MAP0F[0xbd] = decBsfBsr;
MAP0F[0xb8] = decPopcnt;
for (let op = 0xc8; op < 0xd0; op++) MAP0F[op] = decBswap;
MAP1[0xd7] = decXlat;
