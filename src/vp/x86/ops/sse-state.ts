// Shared plumbing of the SSE/SSE2 groups (sse-*.ts): the availability checks every SSE instruction makes, the
// register file layout, 128/64/32-bit operand loads and stores, and the MXCSR exception bookkeeping.
//
// XMM r is s[S_XMM + 4r .. +3] (little-endian lanes); byte/word lanes are read through cpu.u8/cpu.u16 at the
// state block's byte offset, float lanes through cpu.sf32/cpu.sf64. A memory source operand is first loaded into
// the scratch slot S_XMM_TMP, so every handler sees its source as a state index.
import { CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT, EXC_NM, EXC_UD, EXC_XM } from '../constants.js';
import { S_CR0, S_CR4, S_MXCSR, S_XMM, S_XMM_TMP } from '../state.js';
import type { Handler, Insn } from '../insn.js';
import { opUD, type DecodeFn, type Decoder } from '../decoder.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';

/** Second scratch operand (results of instructions that may still raise #XM are built here). */
export const S_XMM_TMP2 = S_XMM_TMP + 4;

// MXCSR bits (Intel SDM vol. 1, 10.2.3).
export const MX_IE = 0x1;
export const MX_DE = 0x2;
export const MX_ZE = 0x4;
export const MX_OE = 0x8;
export const MX_UE = 0x10;
export const MX_PE = 0x20;
export const MX_DAZ = 0x40;
export const MX_FTZ = 0x8000;
/** Bits LDMXCSR/FXRSTOR accept (MXCSR_MASK): flags, DAZ, masks, RC, FTZ. */
export const MXCSR_MASK = 0xffff;

/** State index of XMM register r. */
export function xr(r: number): number {
  return S_XMM + 4 * r;
}

/**
 * The checks every legacy-SSE instruction makes before anything else: #UD when CR0.EM is set or the OS has not
 * enabled FXSR/SSE (CR4.OSFXSR), #NM when CR0.TS is set (lazy FPU switching). SDM vol. 3, 2.5 and 13.1.
 */
export function sseCheck(cpu: X86Cpu): void {
  const s = cpu.s;
  if ((s[S_CR0] & CR0_EM) !== 0 || (s[S_CR4] & CR4_OSFXSR) === 0) cpu.fault(EXC_UD);
  if ((s[S_CR0] & CR0_TS) !== 0) cpu.fault(EXC_NM);
}

/** Read 16 bytes at cpu.eaLo/eaHi into state index t (all reads happen before anything changes). */
function read128(cpu: X86Cpu, t: number): void {
  const s = cpu.s, lo = cpu.eaLo, hi = cpu.eaHi;
  const a = cpu.read64(lo, hi);
  const b = cpu.rdHi;
  const lo2 = (lo + 8) | 0;
  const c = cpu.read64(lo2, (lo2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
  s[t] = a; s[t + 1] = b; s[t + 2] = c; s[t + 3] = cpu.rdHi;
}

/** 128-bit source operand that must be 16-byte aligned in memory (#GP(0) otherwise): returns its state index. */
export function srcA(cpu: X86Cpu, i: Insn): number {
  if (i.rm >= 0) return S_XMM + 4 * i.rm;
  ea(cpu, i);
  if ((cpu.eaLo & 15) !== 0) cpu.gp0();
  read128(cpu, S_XMM_TMP);
  return S_XMM_TMP;
}

/** 128-bit source operand without an alignment requirement (MOVUPS/MOVDQU/MOVUPD). */
export function srcU(cpu: X86Cpu, i: Insn): number {
  if (i.rm >= 0) return S_XMM + 4 * i.rm;
  ea(cpu, i);
  read128(cpu, S_XMM_TMP);
  return S_XMM_TMP;
}

/** 64-bit source (register: low quadword): returns a state index holding it in its first two ints. */
export function src64(cpu: X86Cpu, i: Insn): number {
  if (i.rm >= 0) return S_XMM + 4 * i.rm;
  ea(cpu, i);
  const s = cpu.s;
  s[S_XMM_TMP] = cpu.read64(cpu.eaLo, cpu.eaHi);
  s[S_XMM_TMP + 1] = cpu.rdHi;
  return S_XMM_TMP;
}

/** 32-bit source (register: low doubleword). */
export function src32(cpu: X86Cpu, i: Insn): number {
  if (i.rm >= 0) return S_XMM + 4 * i.rm;
  ea(cpu, i);
  cpu.s[S_XMM_TMP] = cpu.read32(cpu.eaLo, cpu.eaHi);
  return S_XMM_TMP;
}

/** Store the 16 bytes at state index k to the memory operand (ea computed here); `aligned` forms #GP(0). */
export function store128(cpu: X86Cpu, i: Insn, k: number, aligned: boolean): void {
  ea(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  if (aligned && (lo & 15) !== 0) cpu.gp0();
  cpu.probeWrite(lo, hi, 16);
  const s = cpu.s;
  cpu.write64(lo, hi, s[k], s[k + 1]);
  const lo2 = (lo + 8) | 0;
  cpu.write64(lo2, (lo2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, s[k + 2], s[k + 3]);
}

/** Copy the 4 ints at state index `from` to `to`. */
export function copy128(s: Int32Array, to: number, from: number): void {
  s[to] = s[from]; s[to + 1] = s[from + 1]; s[to + 2] = s[from + 2]; s[to + 3] = s[from + 3];
}

// ---------------------------------------------------------------- floating-point environment

/**
 * The floating-point environment of the executing instruction, read from MXCSR by fpBegin: rounding control,
 * DAZ/FTZ, the underflow/overflow masks (they change the result), and the exception flags raised so far (`exc`).
 * One shared object: handlers are not re-entrant.
 */
export const fp = {
  /** Rounding control: 0 nearest-even, 1 down, 2 up, 3 toward zero. */
  rc: 0,
  daz: false,
  ftz: false,
  /** Underflow / overflow exceptions masked. */
  um: true,
  om: true,
  /** Exception flags raised by the current instruction (MX_* bits). */
  exc: 0,
  /** High half of a 64-bit lane result (lane functions return the low half). */
  hi: 0,
};

/** Load the environment from MXCSR before a floating-point instruction. */
export function fpBegin(cpu: X86Cpu): void {
  const m = cpu.s[S_MXCSR];
  fp.rc = (m >> 13) & 3;
  fp.daz = (m & MX_DAZ) !== 0;
  fp.ftz = (m & MX_FTZ) !== 0;
  fp.um = (m & (MX_UE << 7)) !== 0;
  fp.om = (m & (MX_OE << 7)) !== 0;
  fp.exc = 0;
}

/**
 * Commit the exception flags of the instruction to MXCSR; if one of them is unmasked, raise #XM (or #UD when the
 * OS did not set CR4.OSXMMEXCPT) before the destination is written (SDM vol. 1, 11.5.2 and 11.5.3).
 */
export function fpEnd(cpu: X86Cpu): void {
  let e = fp.exc;
  if (e === 0) return;
  const s = cpu.s;
  const m = s[S_MXCSR];
  const unmasked = e & ~(m >> 7) & 0x3f;
  // An unmasked pre-computation exception (invalid, denormal, divide) stops the instruction before any
  // post-computation exception (overflow, underflow, precision) is looked for (SDM vol. 1, 11.5.1).
  if ((unmasked & (MX_IE | MX_DE | MX_ZE)) !== 0) e &= MX_IE | MX_DE | MX_ZE;
  s[S_MXCSR] = m | e;
  if (unmasked !== 0) cpu.fault((s[S_CR4] & CR4_OSXMMEXCPT) !== 0 ? EXC_XM : EXC_UD);
}

// ---------------------------------------------------------------- decoding

/**
 * A decode function for one 0F opcode whose meaning depends on the mandatory prefix (none, 66, F3, F2) and on
 * the ModRM form: `reg` and `mem` give the handler per prefix for the register and memory forms (null: #UD).
 * With `imm8`, an immediate byte follows the ModRM operand (in i.immLo).
 */
export function sseDecoder(reg: (Handler | null)[], mem: (Handler | null)[] = reg, imm8 = false): DecodeFn {
  return (d: Decoder, i: Insn): void => {
    d.modrm(i);
    if (imm8) i.immLo = d.byte();
    const h = i.rm >= 0 ? reg[i.pfx] : mem[i.pfx];
    i.exec = h ?? opUD;
    if (h === null || h === undefined) d.endBlock = true;
  };
}

/** A 0F AE memory form (group15Memory hook): it exists without a mandatory prefix only. */
export function sseGroup15(h: Handler): DecodeFn {
  return (d: Decoder, i: Insn): void => {
    i.exec = i.pfx === 0 ? h : opUD;
    if (i.pfx !== 0) d.endBlock = true;
  };
}
