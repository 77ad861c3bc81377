// A decoded instruction. Blocks of these are built once per physical code address and executed many times, so
// the decoder resolves everything it can (operand size, register numbers, addressing form, the handler) and
// the handler does only the work the instruction itself needs.
import type { X86Cpu } from './cpu.js';

export type Handler = (cpu: X86Cpu, i: Insn) => void;

/** Register operand numbering for byte registers: 16..19 are AH, CH, DH, BH (legacy encodings without REX). */
export const REG_AH = 16;

export class Insn {
  exec: Handler;
  /** The handler's id in the generated dispatch switch (dispatch.ts), set when the block is built. */
  id = 0;
  /** Byte offsets of the instruction's start and end from the block's start. */
  start = 0;
  end = 0;
  /** Operand size in bytes: 1, 2, 4 or 8. */
  size = 4;
  /** Address size in bytes: 2, 4 or 8. */
  asize = 8;
  /** ModRM.reg (with REX.R) or an opcode-embedded register. */
  reg = 0;
  /** ModRM.rm register (with REX.B) when mod == 3, else -1 (memory operand). */
  rm = -1;
  /** Memory operand: base and index registers (-1 none), scale as a shift count, displacement (sign-extended). */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /**
   * The memory operand is based on RSP/RBP (an SS reference): a non-canonical address raises #SS(0), not
   * #GP(0). Implicit stack accesses (PUSH, POP, ...) are marked by cpu.stackAccess instead.
   */
  ss = false;
  /** RIP-relative memory operand (disp is relative to the next instruction). */
  ripRel = false;
  /** Segment override (SEG_* constant) or SEG_NONE; only FS and GS add a base in 64-bit mode. */
  seg = 7;
  /** Immediate (sign- or zero-extended as the instruction defines), 64-bit as (immLo, immHi). */
  immLo = 0;
  immHi = 0;
  /** Second immediate (ENTER's level, far pointer selector). */
  imm2 = 0;
  /** Instruction-specific sub-operation: ALU op, condition code, group /r field, ... */
  op = 0;
  /** Repeat prefix: 0 none, 1 REP/REPE (F3), 2 REPNE (F2). */
  rep = 0;
  lock = false;
  /** Mandatory-prefix selector for SSE forms: 0 none, 1 66, 2 F3, 3 F2. */
  pfx = 0;
  /** Raw opcode (for diagnostics and for shared handlers). */
  opcode = 0;

  constructor(exec: Handler) {
    this.exec = exec;
  }
}
