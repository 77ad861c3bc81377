// Data movement: MOV (all forms incl. moffs and imm64), LEA, MOVZX/MOVSX/MOVSXD, XCHG, CMOVcc, SETcc,
// CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF/SAHF, CLC/STC/CMC/CLD/STD, NOP forms, MOV to/from segment registers.
import { FLAG_CF, FLAG_DF, RAX, RDX, SEG_CS, SEG_SS } from '../constants.js';
import { materializeFlags, readFlags, setArithFlags, testCondition } from '../flags.js';
import { S_INT_SHADOW, S_RFLAGS, S_SEG_SEL } from '../state.js';
import { MAP0F, MAP1, opUD, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, getReg, readMem, readRM, setReg, writeMem } from '../operands.js';
import { loadDataSegment } from '../segments.js';

function movRR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  setReg(s, i.size, i.reg, getReg(s, i.size, i.rm), s[2 * i.rm + 1]);
}

function mov64RR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, d = 2 * i.reg, r = 2 * i.rm;
  s[d] = s[r]; s[d + 1] = s[r + 1];
}

function mov32RR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  s[2 * i.reg] = s[2 * i.rm]; s[2 * i.reg + 1] = 0;
}

/** reg <- [mem] */
function movRM(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  const v = readMem(cpu, i.size);
  setReg(cpu.s, i.size, i.reg, v, cpu.rdHi);
}

function mov64RM(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  const s = cpu.s;
  const v = cpu.read64(cpu.eaLo, cpu.eaHi);
  s[2 * i.reg] = v; s[2 * i.reg + 1] = cpu.rdHi;
}

function mov32RM(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  const s = cpu.s;
  s[2 * i.reg] = cpu.read32(cpu.eaLo, cpu.eaHi); s[2 * i.reg + 1] = 0;
}

/** [mem] <- reg */
function movMR(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  const s = cpu.s;
  writeMem(cpu, i.size, getReg(s, i.size, i.reg), s[2 * i.reg + 1]);
}

function mov64MR(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  const s = cpu.s;
  cpu.write64(cpu.eaLo, cpu.eaHi, s[2 * i.reg], s[2 * i.reg + 1]);
}

function movRI(cpu: X86Cpu, i: Insn): void {
  setReg(cpu.s, i.size, i.reg, i.immLo, i.immHi);
}

function movMI(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  writeMem(cpu, i.size, i.immLo, i.immHi);
}

function lea(cpu: X86Cpu, i: Insn): void {
  // LEA computes the offset only: no segment base. The decoder cleared i.seg.
  ea(cpu, i);
  setReg(cpu.s, i.size, i.reg, cpu.eaLo, cpu.eaHi);
}

/** MOVZX/MOVSX: i.op = source size (1 or 2), i.imm2 = 1 for sign extension. */
function movx(cpu: X86Cpu, i: Insn): void {
  let v = readRM(cpu, i, i.op);
  let hi = 0;
  if (i.imm2 !== 0) {
    v = i.op === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
    hi = v >> 31;
  }
  setReg(cpu.s, i.size, i.reg, v, hi);
}

/** MOVSXD r64, r/m32 (and the 32-bit-destination form, a plain move). */
function movsxd(cpu: X86Cpu, i: Insn): void {
  const v = readRM(cpu, i, 4);
  setReg(cpu.s, i.size, i.reg, v, v >> 31);
}

function xchgRR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const a = getReg(s, size, i.reg), aHi = s[2 * i.reg + 1];
  const b = getReg(s, size, i.rm), bHi = s[2 * i.rm + 1];
  setReg(s, size, i.reg, b, bHi);
  setReg(s, size, i.rm, a, aHi);
}

function xchgRM(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  ea(cpu, i);
  const m = readMem(cpu, size), mHi = cpu.rdHi;
  writeMem(cpu, size, getReg(s, size, i.reg), s[2 * i.reg + 1]);
  setReg(s, size, i.reg, m, mHi);
}

function nop(_cpu: X86Cpu, _i: Insn): void {
  // nothing
}

function cmov(cpu: X86Cpu, i: Insn): void {
  // The source is read (and may fault) whatever the condition; a 32-bit destination is zero-extended always.
  const v = readRM(cpu, i, i.size);
  const hi = cpu.rdHi;
  const s = cpu.s;
  if (testCondition(s, i.op)) setReg(s, i.size, i.reg, v, hi);
  else if (i.size === 4) s[2 * i.reg + 1] = 0;
}

function setcc(cpu: X86Cpu, i: Insn): void {
  const v = testCondition(cpu.s, i.op) ? 1 : 0;
  if (i.rm >= 0) setReg(cpu.s, 1, i.rm, v, 0);
  else { ea(cpu, i); cpu.write8(cpu.eaLo, cpu.eaHi, v); }
}

/** CBW/CWDE/CDQE */
function cbw(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  switch (i.size) {
    case 2: setReg(s, 2, RAX, (s[0] << 24) >> 24, 0); break;
    case 4: s[0] = (s[0] << 16) >> 16; s[1] = 0; break;
    default: s[1] = s[0] >> 31; break;
  }
}

/** CWD/CDQ/CQO */
function cwd(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  switch (i.size) {
    case 2: setReg(s, 2, RDX, (s[0] << 16) >> 31, 0); break;
    case 4: s[2 * RDX] = s[0] >> 31; s[2 * RDX + 1] = 0; break;
    default: s[2 * RDX] = s[1] >> 31; s[2 * RDX + 1] = s[1] >> 31; break;
  }
}

function lahf(cpu: X86Cpu, _i: Insn): void {
  const f = readFlags(cpu.s);
  setReg(cpu.s, 1, 16, (f & 0xd5) | 2, 0);
}

function sahf(cpu: X86Cpu, _i: Insn): void {
  setArithFlags(cpu.s, (cpu.s[0] >> 8) & 0xd5, 0xd5);
}

function clc(cpu: X86Cpu, _i: Insn): void { setArithFlags(cpu.s, 0, FLAG_CF); }
function stc(cpu: X86Cpu, _i: Insn): void { setArithFlags(cpu.s, FLAG_CF, FLAG_CF); }
function cmc(cpu: X86Cpu, _i: Insn): void { const f = materializeFlags(cpu.s); cpu.s[S_RFLAGS] = f ^ FLAG_CF; }
function cld(cpu: X86Cpu, _i: Insn): void { cpu.s[S_RFLAGS] &= ~FLAG_DF; }
function std(cpu: X86Cpu, _i: Insn): void { cpu.s[S_RFLAGS] |= FLAG_DF; }

/** MOV r/m, Sreg */
function movFromSeg(cpu: X86Cpu, i: Insn): void {
  const sel = cpu.s[S_SEG_SEL + i.op];
  if (i.rm >= 0) setReg(cpu.s, i.size === 8 ? 8 : i.size === 4 ? 4 : 2, i.rm, sel, 0);
  else { ea(cpu, i); cpu.write16(cpu.eaLo, cpu.eaHi, sel); }
}

/** MOV Sreg, r/m (not CS). Loading SS blocks interrupts for one instruction. */
function movToSeg(cpu: X86Cpu, i: Insn): void {
  const sel = readRM(cpu, i, 2);
  loadDataSegment(cpu, i.op, sel);
  if (i.op === SEG_SS) { cpu.s[S_INT_SHADOW] = 1; cpu.stopBlock = true; }
}

// ---- decoding

function decMov(d: Decoder, i: Insn): void {
  const op = i.opcode;
  if ((op & 1) === 0) i.size = 1;
  d.modrm(i);
  const size = i.size;
  if (size === 1) i.reg = d.breg(i.reg);
  if (i.rm >= 0) {
    if (size === 1) i.rm = d.breg(i.rm);
    if (op <= 0x89) { const t = i.reg; i.reg = i.rm; i.rm = t; } // 88/89: destination is r/m
    i.exec = size === 8 ? mov64RR : size === 4 ? mov32RR : movRR;
    return;
  }
  if (op <= 0x89) i.exec = size === 8 ? mov64MR : movMR;
  else i.exec = size === 8 ? mov64RM : size === 4 ? mov32RM : movRM;
}

function decMovRegImm(d: Decoder, i: Insn): void {
  const r = (i.opcode & 7) | (d.rexB << 3);
  if (i.opcode < 0xb8) {
    i.size = 1;
    i.reg = d.breg(r);
    d.imm(i, 1);
  } else {
    i.reg = r;
    if (i.size === 8) { i.immLo = d.s32(); i.immHi = d.s32(); } // MOV r64, imm64
    else d.imm(i, i.size);
  }
  i.exec = movRI;
}

function decMovImm(d: Decoder, i: Insn): void {
  if (i.opcode === 0xc6) i.size = 1;
  d.modrm(i);
  if (i.reg !== 0) { i.exec = opUD; return; }
  d.imm(i, i.size);
  if (i.rm >= 0) { i.reg = i.size === 1 ? d.breg(i.rm) : i.rm; i.exec = movRI; }
  else i.exec = movMI;
}

/** A0-A3: MOV AL/rAX <-> [moffs]; the offset is 8 bytes in 64-bit mode (4 with 67). */
function decMoffs(d: Decoder, i: Insn): void {
  if ((i.opcode & 1) === 0) i.size = 1;
  i.rm = -1;
  i.base = -1;
  i.index = -1;
  i.ripRel = false;
  if (d.asize === 8) {
    i.disp = d.s32();
    const hi = d.s32();
    // Keep the high half in imm2; the handler adds it (ea() handles only 32-bit displacements).
    i.imm2 = hi;
  } else if (d.asize === 4) { i.disp = d.s32(); i.imm2 = 0; }
  else { i.disp = d.u16(); i.imm2 = 0; }
  i.reg = 0;
  i.op = i.opcode >= 0xa2 ? 1 : 0;
  i.exec = moffs;
}

function moffs(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  if (i.asize === 8) {
    // Replace the sign-extended high half with the encoded one.
    cpu.eaHi = (cpu.eaHi - (i.disp >> 31) + i.imm2) | 0;
  }
  const s = cpu.s;
  if (i.op === 0) setReg(s, i.size, 0, readMem(cpu, i.size), cpu.rdHi);
  else writeMem(cpu, i.size, getReg(s, i.size, 0), s[1]);
}

function decLea(d: Decoder, i: Insn): void {
  d.modrm(i);
  if (i.rm >= 0) { i.exec = opUD; return; }
  i.seg = 7; // no segment base for LEA
  i.exec = lea;
}

function decMovx(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.op = (i.opcode & 1) === 0 ? 1 : 2;
  i.imm2 = (i.opcode & 8) !== 0 ? 1 : 0;
  if (i.rm >= 0 && i.op === 1) i.rm = d.breg(i.rm);
  i.exec = movx;
}

function decMovsxd(d: Decoder, i: Insn): void {
  // Outside 64-bit mode 63 is ARPL: compat.ts registers it in front of this decoder.
  d.modrm(i);
  i.exec = movsxd;
}

function decXchg(d: Decoder, i: Insn): void {
  if (i.opcode === 0x86) i.size = 1;
  d.modrm(i);
  if (i.size === 1) i.reg = d.breg(i.reg);
  if (i.rm >= 0) {
    if (i.size === 1) i.rm = d.breg(i.rm);
    i.exec = xchgRR;
  } else {
    i.lock = false; // XCHG with memory is always locked
    i.exec = xchgRM;
  }
}

function decXchgAcc(d: Decoder, i: Insn): void {
  const r = (i.opcode & 7) | (d.rexB << 3);
  if (r === 0) {
    // 90: NOP (F3 90 is PAUSE); with REX.B it is XCHG r8, rax.
    i.exec = nop;
    return;
  }
  i.reg = 0;
  i.rm = r;
  i.exec = xchgRR;
}

function decNopModrm(d: Decoder, i: Insn): void {
  d.modrm(i); // 0F 1F /0 (multi-byte NOP), 0F 18-1E hint NOPs
  i.exec = nop;
}

function decCmov(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.op = i.opcode & 0xf;
  i.exec = cmov;
}

function decSetcc(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.op = i.opcode & 0xf;
  if (i.rm >= 0) i.rm = d.breg(i.rm);
  i.exec = setcc;
}

function decSimple(h: (cpu: X86Cpu, i: Insn) => void): (d: Decoder, i: Insn) => void {
  return (_d, i) => { i.exec = h; };
}

function decMovSeg(d: Decoder, i: Insn): void {
  d.modrm(i);
  const seg = i.reg & 7;
  if (seg > 5) { i.exec = opUD; return; }
  i.op = seg;
  if (i.opcode === 0x8c) { i.exec = movFromSeg; return; }
  if (seg === SEG_CS) { i.exec = opUD; return; }
  i.exec = movToSeg;
  d.endBlock = true;
}

MAP1[0x88] = decMov;
MAP1[0x89] = decMov;
MAP1[0x8a] = decMov;
MAP1[0x8b] = decMov;
MAP1[0x8c] = decMovSeg;
MAP1[0x8e] = decMovSeg;
for (let op = 0xb0; op < 0xc0; op++) MAP1[op] = decMovRegImm;
MAP1[0xc6] = decMovImm;
MAP1[0xc7] = decMovImm;
for (let op = 0xa0; op < 0xa4; op++) MAP1[op] = decMoffs;
MAP1[0x8d] = decLea;
MAP1[0x63] = decMovsxd;
MAP1[0x86] = decXchg;
MAP1[0x87] = decXchg;
for (let op = 0x90; op < 0x98; op++) MAP1[op] = decXchgAcc;
MAP1[0x98] = decSimple(cbw);
MAP1[0x99] = decSimple(cwd);
MAP1[0x9e] = decSimple(sahf);
MAP1[0x9f] = decSimple(lahf);
MAP1[0xf5] = decSimple(cmc);
MAP1[0xf8] = decSimple(clc);
MAP1[0xf9] = decSimple(stc);
MAP1[0xfc] = decSimple(cld);
MAP1[0xfd] = decSimple(std);
MAP0F[0xb6] = decMovx;
MAP0F[0xb7] = decMovx;
MAP0F[0xbe] = decMovx;
MAP0F[0xbf] = decMovx;
for (let op = 0x40; op < 0x50; op++) MAP0F[op] = decCmov;
for (let op = 0x90; op < 0xa0; op++) MAP0F[op] = decSetcc;
MAP0F[0x1f] = decNopModrm;
for (let op = 0x18; op < 0x1f; op++) MAP0F[op] = decNopModrm;
MAP0F[0x0d] = decNopModrm; // PREFETCHW (hint)

