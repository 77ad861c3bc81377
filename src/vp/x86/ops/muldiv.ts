// MUL, IMUL, DIV, IDIV (F6/F7 /4../7, 0F AF, 69, 6B). Placeholder handlers until the group lands.
import { EXC_UD } from '../constants.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';

export function opMul(cpu: X86Cpu, _i: Insn): void { cpu.fault(EXC_UD); }
export function opImul1(cpu: X86Cpu, _i: Insn): void { cpu.fault(EXC_UD); }
export function opDiv(cpu: X86Cpu, _i: Insn): void { cpu.fault(EXC_UD); }
export function opIdiv(cpu: X86Cpu, _i: Insn): void { cpu.fault(EXC_UD); }
