// Stack instructions: PUSH/POP (registers, immediates, r/m, FS/GS), PUSHF/POPF, ENTER/LEAVE.
import {
  FLAG_AC, FLAG_DF, FLAG_ID, FLAG_IF, FLAG_IOPL, FLAG_NT, FLAG_TF, FLAGS_ARITH, RBP, RSP, SEG_FS, SEG_GS, SEG_SS,
} from '../constants.js';
import { LZ_NONE, readFlags } from '../flags.js';
import { S_LZ_OP, S_RFLAGS, S_SEG_ATTR, S_SEG_SEL } from '../state.js';
import { MAP0F, MAP1, opUD, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { adjustSp, ea, peek, push, setReg, writeMem } from '../operands.js';
import { loadDataSegment } from '../segments.js';

function pushR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, r = i.reg;
  push(cpu, i.size, s[2 * r], s[2 * r + 1]);
}

function push64R(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, r = 2 * i.reg;
  const lo = s[2 * RSP], hi = s[2 * RSP + 1];
  const nl = (lo - 8) | 0;
  const nh = (nl >>> 0) > (lo >>> 0) ? (hi - 1) | 0 : hi;
  cpu.stackAccess = true;
  cpu.write64(nl, nh, s[r], s[r + 1]);
  cpu.stackAccess = false;
  s[2 * RSP] = nl; s[2 * RSP + 1] = nh;
}

function popR(cpu: X86Cpu, i: Insn): void {
  const v = peek(cpu, i.size);
  const hi = cpu.rdHi;
  adjustSp(cpu, i.size);
  setReg(cpu.s, i.size, i.reg, v, hi); // after the adjust: POP RSP loads the popped value
}

function pop64R(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const lo = s[2 * RSP], hi = s[2 * RSP + 1];
  cpu.stackAccess = true;
  const v = cpu.read64(lo, hi), vh = cpu.rdHi;
  cpu.stackAccess = false;
  const nl = (lo + 8) | 0;
  s[2 * RSP] = nl; s[2 * RSP + 1] = (nl >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  s[2 * i.reg] = v; s[2 * i.reg + 1] = vh;
}

function pushI(cpu: X86Cpu, i: Insn): void {
  push(cpu, i.size, i.immLo, i.immHi);
}

/** POP r/m: the address is computed after RSP is incremented (SDM). */
function popRM(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const v = peek(cpu, i.size), hi = cpu.rdHi;
  const oldLo = s[2 * RSP], oldHi = s[2 * RSP + 1];
  adjustSp(cpu, i.size);
  if (i.rm >= 0) { setReg(s, i.size, i.rm, v, hi); return; }
  try {
    ea(cpu, i);
    writeMem(cpu, i.size, v, hi);
  } catch (e) {
    s[2 * RSP] = oldLo; s[2 * RSP + 1] = oldHi;
    throw e;
  }
}

function pushSeg(cpu: X86Cpu, i: Insn): void {
  push(cpu, i.size, cpu.s[S_SEG_SEL + i.op], 0);
}

function popSeg(cpu: X86Cpu, i: Insn): void {
  const v = peek(cpu, i.size);
  loadDataSegment(cpu, i.op, v & 0xffff);
  adjustSp(cpu, i.size);
}

function pushf(cpu: X86Cpu, i: Insn): void {
  // VM and RF are cleared in the pushed image.
  push(cpu, i.size, readFlags(cpu.s) & ~0x30000, 0);
}

function popf(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const v = peek(cpu, i.size);
  adjustSp(cpu, i.size);
  const cpl = cpu.cpl;
  const old = readFlags(s);
  let mask = FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID | FLAG_IF | FLAG_IOPL;
  if (cpl > 0) mask &= ~FLAG_IOPL;
  if (cpl > ((old & FLAG_IOPL) >> 12)) mask &= ~FLAG_IF;
  if (i.size === 2) mask &= 0xffff;
  const nf = (old & ~mask) | (v & mask) | 2;
  s[S_RFLAGS] = nf;
  s[S_LZ_OP] = LZ_NONE;
  // POPF has no interrupt shadow: if it enabled interrupts while one is waiting, stop here so the run loop
  // delivers it before the next instruction. (Linux's local_irq_restore runs this constantly; stopping every
  // time would break every chain of blocks.)
  if ((old & FLAG_IF) === 0 && (nf & FLAG_IF) !== 0 && (cpu.irqPending || cpu.nmiPending)) cpu.stopBlock = true;
}

function leave(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  // RSP <- RBP, then pop RBP.
  const size = i.size;
  const fLo = s[2 * RBP], fHi = s[2 * RBP + 1];
  // Outside 64-bit mode: EBP, or BP with a 16-bit stack (SS.B=0).
  const stack16 = !cpu.mode64 && (s[S_SEG_ATTR + SEG_SS] & 0x4000) === 0;
  const a = stack16 ? fLo & 0xffff : fLo;
  cpu.stackAccess = true;
  const v = size === 8 ? cpu.read64(fLo, fHi) : size === 4 ? cpu.read32(a, cpu.mode64 ? fHi : 0) : cpu.read16(a, cpu.mode64 ? fHi : 0);
  const vh = size === 8 ? cpu.rdHi : 0;
  cpu.stackAccess = false;
  if (cpu.mode64) { s[2 * RSP] = fLo; s[2 * RSP + 1] = fHi; } else s[2 * RSP] = stack16 ? (s[2 * RSP] & ~0xffff) | a : fLo;
  adjustSp(cpu, size);
  setReg(s, size, RBP, v, vh);
}

/** ENTER imm16, imm8 */
function enter(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const size = i.size;
  const level = i.imm2 & 31;
  const saveLo = s[2 * RSP], saveHi = s[2 * RSP + 1];
  try {
    push(cpu, size, s[2 * RBP], s[2 * RBP + 1]);
    const frameLo = s[2 * RSP], frameHi = s[2 * RSP + 1];
    if (level > 0) {
      // Outside 64-bit mode the frame pointer is EBP (BP with a 16-bit stack, SS.B=0): upper halves do not count.
      const stack16 = !cpu.mode64 && (s[S_SEG_ATTR + SEG_SS] & 0x4000) === 0;
      let bpLo = s[2 * RBP], bpHi = cpu.mode64 ? s[2 * RBP + 1] : 0;
      for (let k = 1; k < level; k++) {
        const nl = (bpLo - size) | 0;
        bpHi = cpu.mode64 && (nl >>> 0) > (bpLo >>> 0) ? (bpHi - 1) | 0 : bpHi;
        bpLo = nl;
        const a = stack16 ? bpLo & 0xffff : bpLo;
        const v = size === 8 ? cpu.read64(a, bpHi) : size === 4 ? cpu.read32(a, bpHi) : cpu.read16(a, bpHi);
        push(cpu, size, v, size === 8 ? cpu.rdHi : 0);
      }
      push(cpu, size, frameLo, frameHi);
    }
    adjustSp(cpu, -i.immLo);
    // The new stack top must be writable (ENTER faults before completing otherwise).
    cpu.probeWrite(s[2 * RSP], s[2 * RSP + 1], 1);
    setReg(s, size, RBP, frameLo, frameHi);
  } catch (e) {
    s[2 * RSP] = saveLo; s[2 * RSP + 1] = saveHi;
    throw e;
  }
}

// ---- decoding

function stackSize(d: Decoder, i: Insn): void {
  // 64-bit mode: pushes and pops are 8 bytes (or 2 with 66); 4 is not encodable.
  if (d.mode64) i.size = d.p66 ? 2 : 8;
}

function decPushR(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.reg = (i.opcode & 7) | (d.rexB << 3);
  i.exec = i.size === 8 ? push64R : pushR;
}

function decPopR(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.reg = (i.opcode & 7) | (d.rexB << 3);
  i.exec = i.size === 8 ? pop64R : popR;
}

function decPushI(d: Decoder, i: Insn): void {
  stackSize(d, i);
  if (i.opcode === 0x6a) d.immS8(i);
  else if (i.size === 2) { i.immLo = d.u16(); i.immHi = 0; }
  else { i.immLo = d.s32(); i.immHi = i.immLo >> 31; }
  i.exec = pushI;
}

function decPopRM(d: Decoder, i: Insn): void {
  stackSize(d, i);
  d.modrm(i);
  if (i.reg !== 0) { i.exec = opUD; return; }
  i.exec = popRM;
}

function decPushSeg(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.op = i.opcode === 0x0fa0 ? SEG_FS : SEG_GS;
  i.exec = pushSeg;
}

function decPopSeg(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.op = i.opcode === 0x0fa1 ? SEG_FS : SEG_GS;
  i.exec = popSeg;
  d.endBlock = true;
}

function decPushf(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.exec = pushf;
}

function decPopf(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.exec = popf;
}

function decLeave(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.exec = leave;
}

function decEnter(d: Decoder, i: Insn): void {
  stackSize(d, i);
  i.immLo = d.u16();
  i.imm2 = d.byte();
  i.exec = enter;
}

for (let op = 0x50; op < 0x58; op++) MAP1[op] = decPushR;
for (let op = 0x58; op < 0x60; op++) MAP1[op] = decPopR;
MAP1[0x68] = decPushI;
MAP1[0x6a] = decPushI;
MAP1[0x8f] = decPopRM;
MAP1[0x9c] = decPushf;
MAP1[0x9d] = decPopf;
MAP1[0xc8] = decEnter;
MAP1[0xc9] = decLeave;
MAP0F[0xa0] = decPushSeg;
MAP0F[0xa8] = decPushSeg;
MAP0F[0xa1] = decPopSeg;
MAP0F[0xa9] = decPopSeg;

