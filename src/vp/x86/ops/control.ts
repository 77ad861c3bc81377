// Control transfer: Jcc, JMP, CALL, RET (near and far), LOOP/LOOPcc/JrCXZ, and group FF (INC, DEC, CALL, JMP,
// PUSH). Branches end a block; relative targets are computed from the next RIP at run time because blocks are
// cached by physical address and may run under several virtual aliases.
import { EXC_GP, EXC_NP, EXC_UD, RCX, RSP, SEG_CS, SEG_SS } from '../constants.js';
import { lazyZF, testCondition } from '../flags.js';
import { S_SEG_SEL } from '../state.js';
import { MAP0F, MAP1, opUD, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { adjustSp, ea, jumpRel, jumpTo, peek, push, readMem, readRM } from '../operands.js';
import { readDescriptor, loadCodeSegment, loadDataSegment } from '../segments.js';
import { decIncDec } from './alu.js';

function jcc(cpu: X86Cpu, i: Insn): void {
  if (testCondition(cpu.s, i.op)) jumpRel(cpu, i, i.immLo);
}

/** JZ/JNZ (the most frequent conditions) read ZF straight from the lazy result. */
function jz(cpu: X86Cpu, i: Insn): void {
  if (lazyZF(cpu.s) === (i.op === 4)) jumpRel(cpu, i, i.immLo);
}

function jmpRel(cpu: X86Cpu, i: Insn): void {
  jumpRel(cpu, i, i.immLo);
}

function callRel(cpu: X86Cpu, i: Insn): void {
  push(cpu, i.size, cpu.nipLo, cpu.nipHi);
  jumpRel(cpu, i, i.immLo);
}

function checkCanonical(cpu: X86Cpu, hi: number): void {
  if (cpu.mode64 && ((hi << 16) >> 16) !== hi) cpu.fault(EXC_GP, 0);
}

function ret(cpu: X86Cpu, i: Insn): void {
  const lo = peek(cpu, i.size);
  const hi = i.size === 8 ? cpu.rdHi : 0;
  checkCanonical(cpu, hi);
  adjustSp(cpu, i.size + i.immLo);
  jumpTo(cpu, i.size === 2 ? lo & 0xffff : lo, hi);
}

function callInd(cpu: X86Cpu, i: Insn): void {
  const lo = readRM(cpu, i, i.size);
  const hi = i.size === 8 ? cpu.rdHi : 0;
  checkCanonical(cpu, hi);
  push(cpu, i.size, cpu.nipLo, cpu.nipHi);
  jumpTo(cpu, lo, hi);
}

function jmpInd(cpu: X86Cpu, i: Insn): void {
  const lo = readRM(cpu, i, i.size);
  const hi = i.size === 8 ? cpu.rdHi : 0;
  checkCanonical(cpu, hi);
  jumpTo(cpu, lo, hi);
}

function pushRM(cpu: X86Cpu, i: Insn): void {
  const lo = readRM(cpu, i, i.size);
  push(cpu, i.size, lo, cpu.rdHi);
}

/** LOOP (op 2), LOOPE (1), LOOPNE (0), JrCXZ (3). The counter is RCX/ECX by address size. */
function loop(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const a64 = i.asize === 8;
  let lo = s[2 * RCX], hi = a64 ? s[2 * RCX + 1] : 0;
  if (i.asize === 2) lo &= 0xffff;
  if (i.op === 3) {
    if ((lo | hi) === 0) jumpRel(cpu, i, i.immLo);
    return;
  }
  lo = (lo - 1) | 0;
  if (a64) { if (lo === -1) hi = (hi - 1) | 0; s[2 * RCX] = lo; s[2 * RCX + 1] = hi; }
  else if (i.asize === 4) { s[2 * RCX] = lo; s[2 * RCX + 1] = 0; }
  else { lo &= 0xffff; s[2 * RCX] = (s[2 * RCX] & ~0xffff) | lo; }
  let take = (lo | hi) !== 0;
  if (i.op === 1) take = take && testCondition(cpu.s, 4); // ZF=1
  else if (i.op === 0) take = take && testCondition(cpu.s, 5); // ZF=0
  if (take) jumpRel(cpu, i, i.immLo);
}

/**
 * Far transfer to selector:offset (JMP/CALL far, direct or through memory, RETF). Same-privilege code segments
 * only for JMP/CALL (no call gates); RETF may return to an outer level. `callSize` (CALL only, else 0) is the
 * size of the CS and return-address pushes, made after the target checks passed (SDM CALL: a faulting target
 * leaves the stack alone) and undone if the second push faults.
 */
export function farTarget(cpu: X86Cpu, sel: number, offLo: number, offHi: number, isRet: boolean, popExtra: number, size: number,
  callSize = 0): void {
  if ((sel & 0xfffc) === 0) cpu.fault(EXC_GP, 0);
  const d = readDescriptor(cpu, sel);
  const cpl = cpu.cpl;
  const rpl = sel & 3;
  if (!d.s || !d.code) cpu.fault(EXC_GP, sel & 0xfffc); // call gates / TSS: not supported
  const conforming = (d.type & 4) !== 0;
  let newCpl = cpl;
  if (isRet) {
    if (rpl < cpl) cpu.fault(EXC_GP, sel & 0xfffc);
    if (conforming ? d.dpl > rpl : d.dpl !== rpl) cpu.fault(EXC_GP, sel & 0xfffc);
    newCpl = rpl;
  } else if (conforming ? d.dpl > cpl : (d.dpl !== cpl || rpl > cpl)) cpu.fault(EXC_GP, sel & 0xfffc);
  if (!d.present) cpu.fault(EXC_NP, sel & 0xfffc);
  const base = d.base, limit = d.limit, attr = d.attr;
  const long = d.long;
  if (callSize !== 0) {
    const s = cpu.s, spLo = s[2 * RSP], spHi = s[2 * RSP + 1];
    try {
      push(cpu, callSize, s[S_SEG_SEL + SEG_CS], 0);
      push(cpu, callSize, cpu.nipLo, cpu.nipHi);
    } catch (e) {
      s[2 * RSP] = spLo; s[2 * RSP + 1] = spHi;
      throw e;
    }
  }
  if (isRet && newCpl > cpl) {
    // Outer return: SS:RSP follow CS:RIP (and the immediate) on the stack.
    const spLo = peek(cpu, size, 2 * size + popExtra), spHi = size === 8 ? cpu.rdHi : 0;
    const ss = peek(cpu, size, 3 * size + popExtra) & 0xffff;
    loadCodeSegment(cpu, sel, base, limit, attr, newCpl);
    loadDataSegment(cpu, SEG_SS, ss);
    cpu.s[2 * RSP] = spLo; cpu.s[2 * RSP + 1] = spHi;
  } else {
    if (isRet) adjustSp(cpu, 2 * size + popExtra);
    loadCodeSegment(cpu, sel, base, limit, attr, newCpl);
  }
  cpu.nipLo = offLo;
  cpu.nipHi = long ? offHi : 0;
  cpu.stopBlock = true;
}

function retFar(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  const offLo = peek(cpu, size), offHi = size === 8 ? cpu.rdHi : 0;
  const sel = peek(cpu, size, size) & 0xffff;
  farTarget(cpu, sel, size === 2 ? offLo & 0xffff : offLo, offHi, true, i.immLo, size);
}

/** FF /3 and /5: far CALL/JMP through an m16:16/32/64 operand. */
function farInd(cpu: X86Cpu, i: Insn): void {
  if (i.rm >= 0) cpu.fault(EXC_UD);
  ea(cpu, i);
  const size = i.size;
  const offLo = readMem(cpu, size), offHi = size === 8 ? cpu.rdHi : 0;
  const selLo = (cpu.eaLo + size) | 0;
  const sel = cpu.read16(selLo, (selLo >>> 0) < (cpu.eaLo >>> 0) ? (cpu.eaHi + 1) | 0 : cpu.eaHi);
  farTarget(cpu, sel, size === 2 ? offLo & 0xffff : offLo, offHi, false, 0, size, i.op === 3 ? size : 0);
}

// ---- decoding

function branchSize(d: Decoder, i: Insn): void {
  // Near branches are 64-bit in 64-bit mode whatever the 66 prefix says (Intel behaviour).
  if (d.mode64) i.size = 8;
  d.endBlock = true;
}

function decJcc8(d: Decoder, i: Insn): void {
  i.immLo = d.s8();
  i.op = i.opcode & 0xf;
  branchSize(d, i);
  i.exec = i.op === 4 || i.op === 5 ? jz : jcc;
}

function decJcc32(d: Decoder, i: Insn): void {
  i.immLo = i.size === 2 && !d.mode64 ? (d.u16() << 16) >> 16 : d.s32();
  i.op = i.opcode & 0xf;
  branchSize(d, i);
  i.exec = i.op === 4 || i.op === 5 ? jz : jcc;
}

function decJmp(d: Decoder, i: Insn): void {
  if (i.opcode === 0xeb) i.immLo = d.s8();
  else i.immLo = i.size === 2 && !d.mode64 ? (d.u16() << 16) >> 16 : d.s32();
  branchSize(d, i);
  i.exec = jmpRel;
}

function decCall(d: Decoder, i: Insn): void {
  i.immLo = i.size === 2 && !d.mode64 ? (d.u16() << 16) >> 16 : d.s32();
  branchSize(d, i);
  i.exec = callRel;
}

function decRet(d: Decoder, i: Insn): void {
  i.immLo = i.opcode === 0xc2 ? d.u16() : 0;
  branchSize(d, i);
  i.exec = ret;
}

function decRetFar(d: Decoder, i: Insn): void {
  i.immLo = i.opcode === 0xca ? d.u16() : 0;
  d.endBlock = true;
  i.exec = retFar;
}

function decLoop(d: Decoder, i: Insn): void {
  i.immLo = d.s8();
  i.op = i.opcode - 0xe0;
  branchSize(d, i);
  i.exec = loop;
}

function decGroup5(d: Decoder, i: Insn): void {
  d.modrm(i);
  const op = i.reg;
  i.op = op;
  switch (op) {
    case 0: case 1: decIncDec(d, i); return;
    case 2: branchSize(d, i); i.exec = callInd; return;
    case 4: branchSize(d, i); i.exec = jmpInd; return;
    case 3: case 5: d.endBlock = true; i.exec = farInd; return;
    case 6: if (d.mode64 && i.size !== 2) i.size = 8; i.exec = pushRM; return;
    default: i.exec = opUD; return;
  }
}

for (let op = 0x70; op < 0x80; op++) MAP1[op] = decJcc8;
for (let op = 0x80; op < 0x90; op++) MAP0F[op] = decJcc32;
MAP1[0xeb] = decJmp;
MAP1[0xe9] = decJmp;
MAP1[0xe8] = decCall;
MAP1[0xc3] = decRet;
MAP1[0xc2] = decRet;
MAP1[0xcb] = decRetFar;
MAP1[0xca] = decRetFar;
for (let op = 0xe0; op < 0xe4; op++) MAP1[op] = decLoop;
MAP1[0xff] = decGroup5;

