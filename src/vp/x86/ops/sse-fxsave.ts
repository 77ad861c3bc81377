// The FXSAVE area: FXSAVE/FXRSTOR (0F AE /0 /1, with REX.W the FXSAVE64/FXRSTOR64 forms), registered through
// system.ts's group15Memory hook (LDMXCSR/STMXCSR are in sse-mxcsr.ts).
//
// The 512-byte area (SDM vol. 1, 10.5.1, tables 10-2/10-3): FCW, FSW, abridged FTW (one bit per physical
// register), FOP, FIP and FDP (64-bit with REX.W; else 32-bit offsets with FCS/FDS selectors), MXCSR,
// MXCSR_MASK, ST0-ST7 as 80-bit values in 16-byte slots (ST(i), not physical order), XMM0-15 (XMM0-7 outside
// 64-bit mode). Bytes 464-511 are left to software and never written. The x87 register file layout is x87's
// (x87-state.ts). MXCSR_MASK is 0xFFFF: every MXCSR bit up to FTZ, DAZ included, is supported.
import { CR0_EM, CR0_TS, EXC_NM, SEG_CS, SEG_DS } from '../constants.js';
import { S_CR0, S_FCW, S_FDP, S_FIP, S_FOP, S_FTW, S_MXCSR, S_SEG_SEL, S_XMM } from '../state.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';
import { group15Memory } from './system.js';
import { MXCSR_MASK, sseGroup15 } from './sse-state.js';
import { readFsw, readSt80, stPhys, writeFsw, writeSt80 } from './x87-state.js';

const st80 = new Int32Array(3);

/** Address lo + off (off < 512) as (lo, carry into hi). */
function at(cpu: X86Cpu, off: number): number {
  return (cpu.eaLo + off) | 0;
}

function hiAt(cpu: X86Cpu, off: number): number {
  const l = (cpu.eaLo + off) | 0;
  return (l >>> 0) < (cpu.eaLo >>> 0) ? (cpu.eaHi + 1) | 0 : cpu.eaHi;
}

function w16(cpu: X86Cpu, off: number, v: number): void {
  cpu.write16(at(cpu, off), hiAt(cpu, off), v);
}

function w32(cpu: X86Cpu, off: number, v: number): void {
  cpu.write32(at(cpu, off), hiAt(cpu, off), v);
}

function r16(cpu: X86Cpu, off: number): number {
  return cpu.read16(at(cpu, off), hiAt(cpu, off));
}

function r32(cpu: X86Cpu, off: number): number {
  return cpu.read32(at(cpu, off), hiAt(cpu, off));
}

/** FXSAVE/FXRSTOR: #NM when CR0.TS or CR0.EM is set (no OSFXSR requirement), #GP(0) unless 16-byte aligned. */
function fxCheck(cpu: X86Cpu, i: Insn): void {
  if ((cpu.s[S_CR0] & (CR0_TS | CR0_EM)) !== 0) cpu.fault(EXC_NM);
  ea(cpu, i);
  if ((cpu.eaLo & 15) !== 0) cpu.gp0();
}

function fxsave(cpu: X86Cpu, i: Insn): void {
  fxCheck(cpu, i);
  const s = cpu.s;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, 464);
  w16(cpu, 0, s[S_FCW]);
  w16(cpu, 2, readFsw(s));
  w16(cpu, 4, s[S_FTW] & 0xff); // abridged tag byte, and the reserved byte 5 as zero
  w16(cpu, 6, s[S_FOP] & 0x7ff);
  if (i.size === 8) {
    w32(cpu, 8, s[S_FIP]); w32(cpu, 12, s[S_FIP + 1]);
    w32(cpu, 16, s[S_FDP]); w32(cpu, 20, s[S_FDP + 1]);
  } else {
    w32(cpu, 8, s[S_FIP]); w32(cpu, 12, s[S_SEG_SEL + SEG_CS] & 0xffff);
    w32(cpu, 16, s[S_FDP]); w32(cpu, 20, s[S_SEG_SEL + SEG_DS] & 0xffff);
  }
  w32(cpu, 24, s[S_MXCSR]);
  w32(cpu, 28, MXCSR_MASK);
  for (let k = 0; k < 8; k++) {
    readSt80(cpu, stPhys(s, k), st80);
    const o = 32 + 16 * k;
    w32(cpu, o, st80[0]); w32(cpu, o + 4, st80[1]); w32(cpu, o + 8, st80[2] & 0xffff); w32(cpu, o + 12, 0);
  }
  const n = cpu.mode64 ? 16 : 8;
  for (let k = 0; k < 4 * n; k++) w32(cpu, 160 + 4 * k, s[S_XMM + k]);
  for (let off = 160 + 16 * n; off < 464; off += 4) w32(cpu, off, 0);
}

function fxrstor(cpu: X86Cpu, i: Insn): void {
  fxCheck(cpu, i);
  const s = cpu.s;
  // Read and validate everything before changing any state.
  const mxcsr = r32(cpu, 24);
  if ((mxcsr & ~MXCSR_MASK) !== 0) cpu.gp0();
  r32(cpu, 508); // the whole area must be readable (a #PF at its end leaves the state untouched)
  const fcw = r16(cpu, 0), fsw = r16(cpu, 2), ftw = cpu.read8(at(cpu, 4), hiAt(cpu, 4)), fop = r16(cpu, 6);
  const fipLo = r32(cpu, 8), fipHi = i.size === 8 ? r32(cpu, 12) : 0;
  const fdpLo = r32(cpu, 16), fdpHi = i.size === 8 ? r32(cpu, 20) : 0;
  s[S_FCW] = fcw;
  writeFsw(s, fsw);
  s[S_FTW] = ftw;
  s[S_FOP] = fop & 0x7ff;
  s[S_FIP] = fipLo; s[S_FIP + 1] = fipHi;
  s[S_FDP] = fdpLo; s[S_FDP + 1] = fdpHi;
  for (let k = 0; k < 8; k++) {
    const o = 32 + 16 * k;
    writeSt80(cpu, stPhys(s, k), r32(cpu, o), r32(cpu, o + 4), r16(cpu, o + 8));
  }
  s[S_MXCSR] = mxcsr;
  const n = cpu.mode64 ? 16 : 8;
  for (let k = 0; k < 4 * n; k++) s[S_XMM + k] = r32(cpu, 160 + 4 * k);
}


group15Memory[0] = sseGroup15(fxsave);
group15Memory[1] = sseGroup15(fxrstor);
