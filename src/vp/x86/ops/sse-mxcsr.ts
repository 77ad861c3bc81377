// MXCSR load and store: LDMXCSR/STMXCSR (0F AE /2 /3), registered through system.ts's group15Memory hook.
import { S_MXCSR } from '../state.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';
import { group15Memory } from './system.js';
import { MXCSR_MASK, sseCheck, sseGroup15 } from './sse-state.js';

/** LDMXCSR m32: #GP(0) when a reserved bit is set. */
function ldmxcsr(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  ea(cpu, i);
  const v = cpu.read32(cpu.eaLo, cpu.eaHi);
  if ((v & ~MXCSR_MASK) !== 0) cpu.gp0();
  cpu.s[S_MXCSR] = v;
}

function stmxcsr(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  ea(cpu, i);
  cpu.write32(cpu.eaLo, cpu.eaHi, cpu.s[S_MXCSR]);
}

group15Memory[2] = sseGroup15(ldmxcsr);
group15Memory[3] = sseGroup15(stmxcsr);
