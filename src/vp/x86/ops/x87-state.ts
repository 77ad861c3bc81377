// x87 register-file access shared by the x87 instruction group and FXSAVE/FXRSTOR (SSE group).
//
// Layout (state.ts): physical register p (0..7) is S_FPR_RAW + 3p: [significand low 32, significand high 32
// (bit 31 = explicit integer bit), sign << 15 | biased exponent]. ST(i) is physical (TOP + i) & 7.
// S_FSW holds the status word WITHOUT the TOP field (bits 11..13 are kept zero); TOP lives in S_FPU_TOP.
// S_FTW is the abridged tag word (bit p = 1: physical register p is not empty), as FXSAVE stores it; the full
// 2-bit tags of FNSTENV/FNSAVE are derived from the register contents (fullTagWord).
// S_FOP (11-bit opcode), S_FIP (lo, hi) and S_FDP (lo, hi) describe the last non-control x87 instruction.
import { S_FPR_RAW, S_FPU_TOP, S_FSW, S_FTW } from '../state.js';
import type { X86Cpu } from '../cpu.js';

export const FSW_IE = 0x0001;
export const FSW_SF = 0x0040;
export const FSW_ES = 0x0080;
export const FSW_C0 = 0x0100;
export const FSW_C1 = 0x0200;
export const FSW_C2 = 0x0400;
export const FSW_TOP = 0x3800;
export const FSW_C3 = 0x4000;
export const FSW_B = 0x8000;
export const FSW_CC = FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3;

/** The architectural status word (with TOP). */
export function readFsw(s: Int32Array): number {
  return (s[S_FSW] & ~FSW_TOP & 0xffff) | ((s[S_FPU_TOP] & 7) << 11);
}

/** Set the status word (TOP goes to S_FPU_TOP). */
export function writeFsw(s: Int32Array, v: number): void {
  s[S_FSW] = v & 0xffff & ~FSW_TOP;
  s[S_FPU_TOP] = (v >> 11) & 7;
}

/** Read physical register `phys` into out[0..2] = (significand lo, significand hi, sign/exponent 16 bits). */
export function readSt80(cpu: X86Cpu, phys: number, out: Int32Array): void {
  const k = S_FPR_RAW + 3 * (phys & 7), s = cpu.s;
  out[0] = s[k]; out[1] = s[k + 1]; out[2] = s[k + 2] & 0xffff;
}

/** Write physical register `phys` (does not change its tag). */
export function writeSt80(cpu: X86Cpu, phys: number, lo: number, hi: number, se: number): void {
  const k = S_FPR_RAW + 3 * (phys & 7), s = cpu.s;
  s[k] = lo; s[k + 1] = hi; s[k + 2] = se & 0xffff;
}

/** Physical index of ST(i). */
export function stPhys(s: Int32Array, i: number): number {
  return (s[S_FPU_TOP] + i) & 7;
}

/** 2-bit tag of a non-empty register from its contents: 0 valid, 1 zero, 2 special (NaN, inf, denormal, unsupported). */
export function tagOf(s: Int32Array, phys: number): number {
  const k = S_FPR_RAW + 3 * phys;
  const e = s[k + 2] & 0x7fff;
  if (e === 0x7fff) return 2;
  if (e === 0) return (s[k] | s[k + 1]) === 0 ? 1 : 2;
  return s[k + 1] < 0 ? 0 : 2;
}

/** The full tag word (FNSTENV/FNSAVE format) from the abridged tags and the register contents. */
export function fullTagWord(s: Int32Array): number {
  const ab = s[S_FTW];
  let t = 0;
  for (let p = 0; p < 8; p++) t |= ((ab >> p) & 1) === 0 ? 3 << (2 * p) : tagOf(s, p) << (2 * p);
  return t;
}

/** Abridged tags from a full tag word (FLDENV/FRSTOR): empty (11) becomes 0, anything else 1. */
export function abridgeTagWord(t: number): number {
  let a = 0;
  for (let p = 0; p < 8; p++) if (((t >> (2 * p)) & 3) !== 3) a |= 1 << p;
  return a;
}
