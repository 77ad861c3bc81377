// Shared plumbing of the MMX groups (mmx-*.ts): where the MMX registers live, the availability checks, the
// x87-to-MMX transition, operand loads, and how MMX forms are added to opcodes that SSE modules registered.
//
// MMx is the 64-bit significand of x87 physical register x (SDM vol. 1, 9.5): state indices S_FPR_RAW + 3x
// (low half) and +1 (high half); +2 holds sign/exponent, which every MMX write sets to all ones (bits 64-79).
// Every MMX instruction sets TOP = 0 (vol. 3, 12.2); all but EMMS also make every tag valid (abridged FTW
// 0xFF) — together the "transition" — while EMMS empties every tag. The checks (SDM vol. 3, tables 22-7/22-8/22-9): #UD when CR0.EM is set, #NM when
// CR0.TS is set, then a pending unmasked x87 exception (FSW.ES) raises #MF before the instruction, as for a
// waiting x87 instruction (with CR0.NE clear the processor would signal FERR# instead; there is no such pin
// here, as in x87.ts). CR4.OSFXSR does not matter to instructions with no XMM operand. Forms with an XMM
// operand (CVT*PI*, MOVQ2DQ, MOVDQ2Q) make the SSE checks first (sseCheck: CR4.OSFXSR too) and then the #MF one.
// Faults stay precise: the transition happens after every check and memory access that can fault.
import { CR0_EM, CR0_NE, CR0_TS, EXC_MF, EXC_NM, EXC_UD } from '../constants.js';
import { S_CR0, S_FPR_RAW, S_FPU_TOP, S_FSW, S_FTW, S_XMM_TMP } from '../state.js';
import type { Handler, Insn } from '../insn.js';
import { MAP0F, opUD, type DecodeFn, type Decoder } from '../decoder.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';
import { FSW_ES } from './x87-state.js';

/** State index of MMX register r (0..7): the significand of x87 physical register r. */
export function mr(r: number): number {
  return S_FPR_RAW + 3 * r;
}

/** #UD (CR0.EM), #NM (CR0.TS), #MF (pending unmasked x87 exception, CR0.NE): the checks of every MMX instruction. */
export function mmxCheck(cpu: X86Cpu): void {
  const s = cpu.s, cr0 = s[S_CR0];
  if ((cr0 & CR0_EM) !== 0) cpu.fault(EXC_UD);
  if ((cr0 & CR0_TS) !== 0) cpu.fault(EXC_NM);
  if ((s[S_FSW] & FSW_ES) !== 0 && (cr0 & CR0_NE) !== 0) cpu.fault(EXC_MF);
}

/** The #MF check alone, after sseCheck, for the forms with an XMM operand that make the transition. */
export function x87Pending(cpu: X86Cpu): void {
  const s = cpu.s;
  if ((s[S_FSW] & FSW_ES) !== 0 && (s[S_CR0] & CR0_NE) !== 0) cpu.fault(EXC_MF);
}

/** The x87-to-MMX transition: TOP = 0 and every tag valid. */
export function mmxEnter(s: Int32Array): void {
  s[S_FPU_TOP] = 0;
  s[S_FTW] = 0xff;
}

/** Write (lo, hi) to the MMX register at state index d, with bits 64-79 all ones. */
export function mmSet(s: Int32Array, d: number, lo: number, hi: number): void {
  s[d] = lo; s[d + 1] = hi; s[d + 2] = 0xffff;
}

/** 64-bit source operand mm(rm)/m64: returns a state index holding it (memory goes to the scratch slot). */
export function mmSrc(cpu: X86Cpu, i: Insn): number {
  if (i.rm >= 0) return S_FPR_RAW + 3 * i.rm;
  ea(cpu, i);
  const s = cpu.s;
  s[S_XMM_TMP] = cpu.read64(cpu.eaLo, cpu.eaHi);
  s[S_XMM_TMP + 1] = cpu.rdHi;
  return S_XMM_TMP;
}

/** 32-bit source operand mm(rm)/m32 (PUNPCKL*: only the low half is read; a memory operand is 4 bytes). */
export function mmSrc32(cpu: X86Cpu, i: Insn): number {
  if (i.rm >= 0) return S_FPR_RAW + 3 * i.rm;
  ea(cpu, i);
  cpu.s[S_XMM_TMP] = cpu.read32(cpu.eaLo, cpu.eaHi);
  return S_XMM_TMP;
}

// ---------------------------------------------------------------- decoding

/** Which ModRM operands name MMX registers (REX.R / REX.B do not extend those: there are eight). */
export const MM_REG = 1, MM_RM = 2;

/**
 * A decode function for an MMX form: `reg`/`mem` handle the register and memory forms (null: #UD); `mm` says
 * which operands are MMX registers; `op` goes to i.op; with `imm8` an immediate byte follows (in i.immLo).
 */
export function mmxDecoder(reg: Handler | null, mem: Handler | null, mm: number, op = 0, imm8 = false): DecodeFn {
  return (d: Decoder, i: Insn): void => {
    d.modrm(i);
    if (imm8) i.immLo = d.byte();
    if ((mm & MM_REG) !== 0) i.reg &= 7;
    if (i.rm >= 0 && (mm & MM_RM) !== 0) i.rm &= 7;
    i.op = op;
    const h = i.rm >= 0 ? reg : mem;
    if (h === null) { i.exec = opUD; d.endBlock = true; return; }
    i.exec = h;
  };
}

/**
 * Give 0F `opcode` an MMX form for mandatory prefix `pfx` (0 none, 1 66, 2 F3, 3 F2), keeping the decode
 * function the SSE module registered for the other prefixes. The mmx-*.ts modules import the SSE module of each
 * opcode they extend, so that one has registered first.
 */
export function addMmxForm(opcode: number, dec: DecodeFn, pfx = 0): void {
  const other = MAP0F[opcode];
  MAP0F[opcode] = (d: Decoder, i: Insn): void => {
    if (i.pfx === pfx) dec(d, i);
    else if (other !== undefined) other(d, i);
    else { i.exec = opUD; d.endBlock = true; }
  };
}
