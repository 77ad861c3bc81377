// MMX packed integer instructions on MM registers (no mandatory prefix): PAND/PANDN/POR/PXOR, PADD/PSUB B/W/D/Q
// with the signed and unsigned saturating forms, PCMPEQ/PCMPGT B/W/D, PMULLW/PMULHW/PMADDWD, the shifts
// PSLL/PSRL/PSRA W/D/Q by an mm/m64 count or by imm8 (groups 0F 71-73: /2 /4 /6; no byte shifts on MMX), and
// what SSE and SSE2 added on MM registers: PAVGB/PAVGW, PMINUB/PMAXUB/PMINSW/PMAXSW, PMULHUW, PSADBW, PMULUDQ,
// PADDQ/PSUBQ. The lane kernels are SSE's (sse-int.ts), run on two int32 words instead of four.
import type { Insn } from '../insn.js';
import { opUD, type DecodeFn } from '../decoder.js';
import type { X86Cpu } from '../cpu.js';
import {
  I_ADDB, I_ADDD, I_ADDQ, I_ADDSB, I_ADDSW, I_ADDUSB, I_ADDUSW, I_ADDW, I_AND, I_ANDN, I_AVGB, I_AVGW, I_EQB, I_EQD,
  I_EQW, I_GTB, I_GTD, I_GTW, I_MADDWD, I_MAXSW, I_MAXUB, I_MINSW, I_MINUB, I_MULHUW, I_MULHW, I_MULLW, I_MULUDQ,
  I_OR, I_SADBW, I_SUBB, I_SUBD, I_SUBQ, I_SUBSB, I_SUBSW, I_SUBUSB, I_SUBUSW, I_SUBW, I_XOR, packedInt, SH_LL,
  SH_RA, SH_RL, shiftCount, shiftLanes,
} from './sse-int.js';
import { addMmxForm, mmSrc, mmxCheck, mmxDecoder, mmxEnter, MM_REG, MM_RM, mr } from './mmx-state.js';

/** mm(reg) = mm(reg) op mm/m64 (i.op: an I_* operation of sse-int.ts). */
function mmxInt(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const r = mmSrc(cpu, i);
  const s = cpu.s, d = mr(i.reg);
  mmxEnter(s);
  packedInt(cpu, i.op, d, r, 2);
  s[d + 2] = 0xffff;
}

/** PSLL/PSRL/PSRA W/D/Q mm, mm/m64: the count is the whole 64-bit source. i.op = width * 4 + kind. */
function shiftByMm(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const r = mmSrc(cpu, i);
  const s = cpu.s, d = mr(i.reg);
  const count = shiftCount(s[r], s[r + 1]);
  mmxEnter(s);
  shiftLanes(cpu, d, i.op >> 2, i.op & 3, count, 2);
  s[d + 2] = 0xffff;
}

/** Groups 0F 71/72/73 without prefix: shift mm(rm) by imm8. */
function shiftByImm(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s, d = mr(i.rm);
  mmxEnter(s);
  shiftLanes(cpu, d, i.op >> 2, i.op & 3, i.immLo, 2);
  s[d + 2] = 0xffff;
}

function intForm(opcode: number, op: number): void {
  addMmxForm(opcode, mmxDecoder(mmxInt, mmxInt, MM_REG | MM_RM, op));
}

intForm(0xdb, I_AND);
intForm(0xdf, I_ANDN);
intForm(0xeb, I_OR);
intForm(0xef, I_XOR);
intForm(0xfc, I_ADDB);
intForm(0xfd, I_ADDW);
intForm(0xfe, I_ADDD);
intForm(0xd4, I_ADDQ);
intForm(0xf8, I_SUBB);
intForm(0xf9, I_SUBW);
intForm(0xfa, I_SUBD);
intForm(0xfb, I_SUBQ);
intForm(0xec, I_ADDSB);
intForm(0xed, I_ADDSW);
intForm(0xdc, I_ADDUSB);
intForm(0xdd, I_ADDUSW);
intForm(0xe8, I_SUBSB);
intForm(0xe9, I_SUBSW);
intForm(0xd8, I_SUBUSB);
intForm(0xd9, I_SUBUSW);
intForm(0x74, I_EQB);
intForm(0x75, I_EQW);
intForm(0x76, I_EQD);
intForm(0x64, I_GTB);
intForm(0x65, I_GTW);
intForm(0x66, I_GTD);
intForm(0xda, I_MINUB);
intForm(0xde, I_MAXUB);
intForm(0xea, I_MINSW);
intForm(0xee, I_MAXSW);
intForm(0xd5, I_MULLW);
intForm(0xe5, I_MULHW);
intForm(0xe4, I_MULHUW);
intForm(0xf4, I_MULUDQ);
intForm(0xf5, I_MADDWD);
intForm(0xf6, I_SADBW);
intForm(0xe0, I_AVGB);
intForm(0xe3, I_AVGW);

function shiftForm(opcode: number, op: number): void {
  addMmxForm(opcode, mmxDecoder(shiftByMm, shiftByMm, MM_REG | MM_RM, op));
}
shiftForm(0xf1, 16 * 4 + SH_LL);
shiftForm(0xf2, 32 * 4 + SH_LL);
shiftForm(0xf3, 64 * 4 + SH_LL);
shiftForm(0xd1, 16 * 4 + SH_RL);
shiftForm(0xd2, 32 * 4 + SH_RL);
shiftForm(0xd3, 64 * 4 + SH_RL);
shiftForm(0xe1, 16 * 4 + SH_RA);
shiftForm(0xe2, 32 * 4 + SH_RA);

/** Groups 12-14 without prefix: register forms /2 (PSRL), /4 (PSRA, not Q), /6 (PSLL); everything else #UD. */
function decShiftGroup(width: number): DecodeFn {
  const dec = mmxDecoder(shiftByImm, null, MM_RM, 0, true);
  return (d, i) => {
    dec(d, i);
    if (i.exec !== shiftByImm) return;
    const r = i.reg & 7;
    if (r === 2) i.op = width * 4 + SH_RL;
    else if (r === 6) i.op = width * 4 + SH_LL;
    else if (r === 4 && width !== 64) i.op = width * 4 + SH_RA;
    else { i.exec = opUD; d.endBlock = true; }
  };
}
addMmxForm(0x71, decShiftGroup(16));
addMmxForm(0x72, decShiftGroup(32));
addMmxForm(0x73, decShiftGroup(64));
