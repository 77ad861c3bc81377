// Integer ALU: ADD OR ADC SBB AND SUB XOR CMP (00-3D, 80-83), TEST (84/85, A8/A9, F6/F7 /0), INC/DEC
// (FE/FF /0 /1, 40-4F outside 64-bit mode), NOT/NEG (F6/F7 /2 /3). Flags are recorded lazily (flags.ts).
import { lazyCF, LZ_ADC, LZ_ADD, LZ_DEC, LZ_INC, LZ_LOGIC, LZ_SBB, LZ_SUB } from '../flags.js';
import { S_LZ_AUX, S_LZ_DST, S_LZ_OP, S_LZ_RES, S_LZ_SIZE, S_LZ_SRC } from '../state.js';
import { MAP1, opUD, type Decoder } from '../decoder.js';
import type { Handler, Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, getReg, readMem, setReg, writeMem } from '../operands.js';
import { opDiv, opIdiv, opImul1, opMul } from './muldiv.js';

export const ALU_ADD = 0, ALU_OR = 1, ALU_ADC = 2, ALU_SBB = 3, ALU_AND = 4, ALU_SUB = 5, ALU_XOR = 6, ALU_CMP = 7;

/** High half of the last alu() result (size 8). */
let resHi = 0;

/** Record flags for a two-operand arithmetic result. */
function record(s: Int32Array, op: number, size: number, dLo: number, dHi: number, sLo: number, sHi: number, rLo: number, rHi: number): void {
  s[S_LZ_OP] = op;
  s[S_LZ_SIZE] = size;
  s[S_LZ_DST] = dLo; s[S_LZ_DST + 1] = dHi;
  s[S_LZ_SRC] = sLo; s[S_LZ_SRC + 1] = sHi;
  s[S_LZ_RES] = rLo; s[S_LZ_RES + 1] = rHi;
}

/** Compute `dst op src` for size 1..8, record the flags, return the low half (high half in resHi). */
export function alu(s: Int32Array, op: number, size: number, dLo: number, dHi: number, sLo: number, sHi: number): number {
  let rLo: number, rHi = 0;
  switch (op) {
    case ALU_ADD: {
      const t = (dLo >>> 0) + (sLo >>> 0);
      rLo = t | 0;
      if (size === 8) rHi = (dHi + sHi + (t > 0xffffffff ? 1 : 0)) | 0;
      record(s, LZ_ADD, size, dLo, dHi, sLo, sHi, rLo, rHi);
      break;
    }
    case ALU_ADC: {
      const c = lazyCF(s);
      const t = (dLo >>> 0) + (sLo >>> 0) + c;
      rLo = t | 0;
      if (size === 8) rHi = (dHi + sHi + (t > 0xffffffff ? 1 : 0)) | 0;
      record(s, LZ_ADC, size, dLo, dHi, sLo, sHi, rLo, rHi);
      s[S_LZ_AUX] = c;
      break;
    }
    case ALU_SUB:
    case ALU_CMP: {
      const t = (dLo >>> 0) - (sLo >>> 0);
      rLo = t | 0;
      if (size === 8) rHi = (dHi - sHi - (t < 0 ? 1 : 0)) | 0;
      record(s, LZ_SUB, size, dLo, dHi, sLo, sHi, rLo, rHi);
      break;
    }
    case ALU_SBB: {
      const c = lazyCF(s);
      const t = (dLo >>> 0) - (sLo >>> 0) - c;
      rLo = t | 0;
      if (size === 8) rHi = (dHi - sHi - (t < 0 ? 1 : 0)) | 0;
      record(s, LZ_SBB, size, dLo, dHi, sLo, sHi, rLo, rHi);
      s[S_LZ_AUX] = c;
      break;
    }
    case ALU_AND: rLo = dLo & sLo; rHi = dHi & sHi; record(s, LZ_LOGIC, size, 0, 0, 0, 0, rLo, rHi); break;
    case ALU_OR: rLo = dLo | sLo; rHi = dHi | sHi; record(s, LZ_LOGIC, size, 0, 0, 0, 0, rLo, rHi); break;
    default: rLo = dLo ^ sLo; rHi = dHi ^ sHi; record(s, LZ_LOGIC, size, 0, 0, 0, 0, rLo, rHi); break;
  }
  resHi = rHi;
  return rLo;
}

// ---- handlers. Register forms keep the destination in i.reg and the source in i.rm.

function aluRR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, d = i.reg, r = i.rm;
  if (size === 8) {
    const v = alu(s, i.op, 8, s[2 * d], s[2 * d + 1], s[2 * r], s[2 * r + 1]);
    if (i.op !== ALU_CMP) { s[2 * d] = v; s[2 * d + 1] = resHi; }
    return;
  }
  const v = alu(s, i.op, size, getReg(s, size, d), 0, getReg(s, size, r), 0);
  if (i.op !== ALU_CMP) setReg(s, size, d, v, 0);
}

/** op [mem], reg */
function aluMR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, r = i.reg;
  ea(cpu, i);
  const dLo = readMem(cpu, size), dHi = size === 8 ? cpu.rdHi : 0;
  if (i.op !== ALU_CMP) cpu.probeWrite(cpu.eaLo, cpu.eaHi, size); // a faulting store must leave the flags alone
  const v = alu(s, i.op, size, dLo, dHi, getReg(s, size, r), size === 8 ? s[2 * r + 1] : 0);
  if (i.op !== ALU_CMP) writeMem(cpu, size, v, resHi);
}

/** op reg, [mem] */
function aluRM(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, d = i.reg;
  ea(cpu, i);
  const sLo = readMem(cpu, size), sHi = size === 8 ? cpu.rdHi : 0;
  const v = alu(s, i.op, size, getReg(s, size, d), size === 8 ? s[2 * d + 1] : 0, sLo, sHi);
  if (i.op !== ALU_CMP) setReg(s, size, d, v, resHi);
}

/** op reg, imm */
function aluRI(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, d = i.reg;
  const v = alu(s, i.op, size, getReg(s, size, d), size === 8 ? s[2 * d + 1] : 0, i.immLo, i.immHi);
  if (i.op !== ALU_CMP) setReg(s, size, d, v, resHi);
}

/** op [mem], imm */
function aluMI(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const dLo = readMem(cpu, size), dHi = size === 8 ? cpu.rdHi : 0;
  if (i.op !== ALU_CMP) cpu.probeWrite(cpu.eaLo, cpu.eaHi, size);
  const v = alu(cpu.s, i.op, size, dLo, dHi, i.immLo, i.immHi);
  if (i.op !== ALU_CMP) writeMem(cpu, size, v, resHi);
}

// Fast paths for the most frequent 64-bit forms in kernel code.
function add64RI(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, d = 2 * i.reg;
  const dLo = s[d], dHi = s[d + 1];
  const t = (dLo >>> 0) + (i.immLo >>> 0);
  const rLo = t | 0, rHi = (dHi + i.immHi + (t > 0xffffffff ? 1 : 0)) | 0;
  s[d] = rLo; s[d + 1] = rHi;
  record(s, LZ_ADD, 8, dLo, dHi, i.immLo, i.immHi, rLo, rHi);
}

function test64RR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, d = 2 * i.reg, r = 2 * i.rm;
  record(s, LZ_LOGIC, 8, 0, 0, 0, 0, s[d] & s[r], s[d + 1] & s[r + 1]);
}

function xor32Self(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  s[2 * i.reg] = 0; s[2 * i.reg + 1] = 0;
  record(s, LZ_LOGIC, 4, 0, 0, 0, 0, 0, 0);
}

function testRR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  record(s, LZ_LOGIC, size, 0, 0, 0, 0, getReg(s, size, i.reg) & getReg(s, size, i.rm),
    size === 8 ? s[2 * i.reg + 1] & s[2 * i.rm + 1] : 0);
}

function testMR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  ea(cpu, i);
  const lo = readMem(cpu, size), hi = size === 8 ? cpu.rdHi : 0;
  record(s, LZ_LOGIC, size, 0, 0, 0, 0, lo & getReg(s, size, i.reg), size === 8 ? hi & s[2 * i.reg + 1] : 0);
}

function testRI(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  record(s, LZ_LOGIC, size, 0, 0, 0, 0, getReg(s, size, i.reg) & i.immLo, size === 8 ? s[2 * i.reg + 1] & i.immHi : 0);
}

function testMI(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const lo = readMem(cpu, size), hi = size === 8 ? cpu.rdHi : 0;
  record(cpu.s, LZ_LOGIC, size, 0, 0, 0, 0, lo & i.immLo, hi & i.immHi);
}

/** INC/DEC keep CF: it is saved in S_LZ_AUX before the lazy record replaces it. */
function incdec(s: Int32Array, dec: boolean, size: number, dLo: number, dHi: number): number {
  const cf = lazyCF(s);
  let rLo: number, rHi = 0;
  if (dec) {
    rLo = (dLo - 1) | 0;
    if (size === 8) rHi = rLo === -1 ? (dHi - 1) | 0 : dHi;
    record(s, LZ_DEC, size, dLo, dHi, 1, 0, rLo, rHi);
  } else {
    rLo = (dLo + 1) | 0;
    if (size === 8) rHi = rLo === 0 ? (dHi + 1) | 0 : dHi;
    record(s, LZ_INC, size, dLo, dHi, 1, 0, rLo, rHi);
  }
  s[S_LZ_AUX] = cf;
  resHi = rHi;
  return rLo;
}

function incdecR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, r = i.rm;
  const v = incdec(s, i.op === 1, size, getReg(s, size, r), size === 8 ? s[2 * r + 1] : 0);
  setReg(s, size, r, v, resHi);
}

function incdecM(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const lo = readMem(cpu, size), hi = size === 8 ? cpu.rdHi : 0;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, size);
  const v = incdec(cpu.s, i.op === 1, size, lo, hi);
  writeMem(cpu, size, v, resHi);
}

function notR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, r = i.rm;
  setReg(s, size, r, ~getReg(s, size, r), ~s[2 * r + 1]);
}

function notM(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const lo = readMem(cpu, size), hi = size === 8 ? cpu.rdHi : 0;
  writeMem(cpu, size, ~lo, ~hi);
}

function negR(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size, r = i.rm;
  const v = alu(s, ALU_SUB, size, 0, 0, getReg(s, size, r), size === 8 ? s[2 * r + 1] : 0);
  setReg(s, size, r, v, resHi);
}

function negM(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const lo = readMem(cpu, size), hi = size === 8 ? cpu.rdHi : 0;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, size);
  const v = alu(cpu.s, ALU_SUB, size, 0, 0, lo, hi);
  writeMem(cpu, size, v, resHi);
}

// ---- specialised forms for the frequent cases (64- and 32-bit register/immediate ADD SUB AND OR XOR CMP):
// no operation switch, no size dispatch. Generated per operation by the factories below at module load.

function makeRR64(op: number): Handler {
  switch (op) {
    case ALU_ADD: return (cpu, i) => {
      const s = cpu.s, d = 2 * i.reg, r = 2 * i.rm;
      const dLo = s[d], dHi = s[d + 1], sLo = s[r], sHi = s[r + 1];
      const t = (dLo >>> 0) + (sLo >>> 0);
      const rLo = t | 0, rHi = (dHi + sHi + (t > 0xffffffff ? 1 : 0)) | 0;
      s[d] = rLo; s[d + 1] = rHi;
      record(s, LZ_ADD, 8, dLo, dHi, sLo, sHi, rLo, rHi);
    };
    case ALU_SUB: case ALU_CMP: {
      const write = op === ALU_SUB;
      return (cpu, i) => {
        const s = cpu.s, d = 2 * i.reg, r = 2 * i.rm;
        const dLo = s[d], dHi = s[d + 1], sLo = s[r], sHi = s[r + 1];
        const t = (dLo >>> 0) - (sLo >>> 0);
        const rLo = t | 0, rHi = (dHi - sHi - (t < 0 ? 1 : 0)) | 0;
        if (write) { s[d] = rLo; s[d + 1] = rHi; }
        record(s, LZ_SUB, 8, dLo, dHi, sLo, sHi, rLo, rHi);
      };
    }
    case ALU_AND: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg, r = 2 * i.rm; logic(s, 8, d, s[d] & s[r], s[d + 1] & s[r + 1]); };
    case ALU_OR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg, r = 2 * i.rm; logic(s, 8, d, s[d] | s[r], s[d + 1] | s[r + 1]); };
    case ALU_XOR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg, r = 2 * i.rm; logic(s, 8, d, s[d] ^ s[r], s[d + 1] ^ s[r + 1]); };
  }
  return aluRR;
}

function makeRR32(op: number): Handler {
  switch (op) {
    case ALU_ADD: return (cpu, i) => {
      const s = cpu.s, d = 2 * i.reg;
      const a = s[d], b = s[2 * i.rm], r = (a + b) | 0;
      s[d] = r; s[d + 1] = 0;
      record(s, LZ_ADD, 4, a, 0, b, 0, r, 0);
    };
    case ALU_SUB: case ALU_CMP: {
      const write = op === ALU_SUB;
      return (cpu, i) => {
        const s = cpu.s, d = 2 * i.reg;
        const a = s[d], b = s[2 * i.rm], r = (a - b) | 0;
        if (write) { s[d] = r; s[d + 1] = 0; }
        record(s, LZ_SUB, 4, a, 0, b, 0, r, 0);
      };
    }
    case ALU_AND: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 4, d, s[d] & s[2 * i.rm], 0); };
    case ALU_OR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 4, d, s[d] | s[2 * i.rm], 0); };
    case ALU_XOR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 4, d, s[d] ^ s[2 * i.rm], 0); };
  }
  return aluRR;
}

function makeRI64(op: number): Handler {
  switch (op) {
    case ALU_ADD: return add64RI;
    case ALU_SUB: case ALU_CMP: {
      const write = op === ALU_SUB;
      return (cpu, i) => {
        const s = cpu.s, d = 2 * i.reg;
        const dLo = s[d], dHi = s[d + 1];
        const t = (dLo >>> 0) - (i.immLo >>> 0);
        const rLo = t | 0, rHi = (dHi - i.immHi - (t < 0 ? 1 : 0)) | 0;
        if (write) { s[d] = rLo; s[d + 1] = rHi; }
        record(s, LZ_SUB, 8, dLo, dHi, i.immLo, i.immHi, rLo, rHi);
      };
    }
    case ALU_AND: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 8, d, s[d] & i.immLo, s[d + 1] & i.immHi); };
    case ALU_OR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 8, d, s[d] | i.immLo, s[d + 1] | i.immHi); };
    case ALU_XOR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 8, d, s[d] ^ i.immLo, s[d + 1] ^ i.immHi); };
  }
  return aluRI;
}

function makeRI32(op: number): Handler {
  switch (op) {
    case ALU_ADD: return (cpu, i) => {
      const s = cpu.s, d = 2 * i.reg;
      const a = s[d], r = (a + i.immLo) | 0;
      s[d] = r; s[d + 1] = 0;
      record(s, LZ_ADD, 4, a, 0, i.immLo, 0, r, 0);
    };
    case ALU_SUB: case ALU_CMP: {
      const write = op === ALU_SUB;
      return (cpu, i) => {
        const s = cpu.s, d = 2 * i.reg;
        const a = s[d], r = (a - i.immLo) | 0;
        if (write) { s[d] = r; s[d + 1] = 0; }
        record(s, LZ_SUB, 4, a, 0, i.immLo, 0, r, 0);
      };
    }
    case ALU_AND: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 4, d, s[d] & i.immLo, 0); };
    case ALU_OR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 4, d, s[d] | i.immLo, 0); };
    case ALU_XOR: return (cpu, i) => { const s = cpu.s, d = 2 * i.reg; logic(s, 4, d, s[d] ^ i.immLo, 0); };
  }
  return aluRI;
}

/** Write a logic result to register slot d (size 8 or 4) and record it. */
function logic(s: Int32Array, size: number, d: number, rLo: number, rHi: number): void {
  s[d] = rLo; s[d + 1] = rHi;
  s[S_LZ_OP] = LZ_LOGIC;
  s[S_LZ_SIZE] = size;
  s[S_LZ_RES] = rLo; s[S_LZ_RES + 1] = rHi;
}

const RR64: Handler[] = [];
const RR32: Handler[] = [];
const RI64: Handler[] = [];
const RI32: Handler[] = [];
for (let op = 0; op < 8; op++) {
  RR64.push(makeRR64(op));
  RR32.push(makeRR32(op));
  RI64.push(makeRI64(op));
  RI32.push(makeRI32(op));
}

/** Pick the handler for a register destination: specialised for sizes 8 and 4, generic otherwise. */
function regForm(size: number, op: number, imm: boolean): Handler {
  if (size === 8) return imm ? RI64[op] : RR64[op];
  if (size === 4) return imm ? RI32[op] : RR32[op];
  return imm ? aluRI : aluRR;
}

// ---- decoding

/** Accept LOCK only on a memory destination. */
function lockMem(i: Insn): void {
  if (i.lock && i.rm < 0) i.lock = false;
}

function decAluModrm(d: Decoder, i: Insn): void {
  const form = i.opcode & 7;
  i.op = i.opcode >> 3;
  if ((form & 1) === 0) i.size = 1;
  d.modrm(i);
  const size = i.size;
  if (form <= 1) {
    // E, G: destination r/m
    if (i.rm >= 0) {
      const dst = size === 1 ? d.breg(i.rm) : i.rm;
      const src = size === 1 ? d.breg(i.reg) : i.reg;
      i.reg = dst; i.rm = src;
      // xor r,r and sub r,r (the zeroing idioms) give 0 with identical flags: CF=OF=AF=SF=0, ZF=PF=1.
      if ((i.op === ALU_XOR || i.op === ALU_SUB) && dst === src && size >= 4) { i.exec = xor32Self; return; }
      i.exec = regForm(size, i.op, false);
    } else {
      if (size === 1) i.reg = d.breg(i.reg);
      if (i.op !== ALU_CMP) lockMem(i);
      i.exec = aluMR;
    }
  } else {
    // G, E: destination reg
    if (size === 1) i.reg = d.breg(i.reg);
    if (i.rm >= 0) {
      if (size === 1) i.rm = d.breg(i.rm);
      i.exec = regForm(size, i.op, false);
    } else i.exec = aluRM;
  }
}

function decAluAcc(d: Decoder, i: Insn): void {
  i.op = i.opcode >> 3;
  if ((i.opcode & 1) === 0) i.size = 1;
  d.imm(i, i.size);
  i.reg = 0;
  i.exec = regForm(i.size, i.op, true);
}

function decAluImm(d: Decoder, i: Insn): void {
  if (i.opcode === 0x80 || i.opcode === 0x82) i.size = 1;
  if (i.opcode === 0x82 && d.mode64) { i.exec = opUD; return; }
  d.modrm(i);
  i.op = i.reg;
  if (i.opcode === 0x83) d.immS8(i);
  else d.imm(i, i.size);
  if (i.rm >= 0) {
    i.reg = i.size === 1 ? d.breg(i.rm) : i.rm;
    i.exec = regForm(i.size, i.op, true);
  } else {
    if (i.op !== ALU_CMP) lockMem(i);
    i.exec = aluMI;
  }
}

function decTest(d: Decoder, i: Insn): void {
  if (i.opcode === 0x84) i.size = 1;
  d.modrm(i);
  if (i.size === 1) i.reg = d.breg(i.reg);
  if (i.rm >= 0) {
    if (i.size === 1) i.rm = d.breg(i.rm);
    i.exec = i.size === 8 ? test64RR : testRR;
  } else i.exec = testMR;
}

function decTestAcc(d: Decoder, i: Insn): void {
  if (i.opcode === 0xa8) i.size = 1;
  d.imm(i, i.size);
  i.reg = 0;
  i.exec = testRI;
}

/** F6/F7: TEST, -, NOT, NEG, MUL, IMUL, DIV, IDIV. */
function decGroup3(d: Decoder, i: Insn): void {
  if (i.opcode === 0xf6) i.size = 1;
  d.modrm(i);
  const op = i.reg;
  i.op = op;
  if (i.rm >= 0 && i.size === 1) i.rm = d.breg(i.rm);
  switch (op) {
    case 0: case 1:
      d.imm(i, i.size);
      if (i.rm >= 0) { i.reg = i.rm; i.exec = testRI; } else i.exec = testMI;
      return;
    case 2: lockMem(i); i.exec = i.rm >= 0 ? notR : notM; return;
    case 3: lockMem(i); i.exec = i.rm >= 0 ? negR : negM; return;
    case 4: i.exec = opMul; return;
    case 5: i.exec = opImul1; return;
    case 6: i.exec = opDiv; return;
    default: i.exec = opIdiv; return;
  }
}

/** FE /0 /1 (byte INC/DEC); FF /0 /1 handled here too, the rest of FF lives in control.ts / stack.ts. */
export function decIncDec(d: Decoder, i: Insn): void {
  i.op = i.reg;
  if (i.rm >= 0) {
    if (i.size === 1) i.rm = d.breg(i.rm);
    i.exec = incdecR;
  } else {
    lockMem(i);
    i.exec = incdecM;
  }
}

function decGroup4(d: Decoder, i: Insn): void {
  i.size = 1;
  d.modrm(i);
  if (i.reg > 1) { i.exec = opUD; return; }
  decIncDec(d, i);
}

/** 40-4F outside 64-bit mode: INC/DEC r16/32. */
function decIncDecShort(d: Decoder, i: Insn): void {
  i.rm = i.opcode & 7;
  i.op = (i.opcode >> 3) & 1;
  i.exec = incdecR;
  void d;
}

for (let op = 0; op < 8; op++) {
  for (let f = 0; f < 4; f++) MAP1[op * 8 + f] = decAluModrm;
  MAP1[op * 8 + 4] = decAluAcc;
  MAP1[op * 8 + 5] = decAluAcc;
}
MAP1[0x80] = decAluImm;
MAP1[0x81] = decAluImm;
MAP1[0x82] = decAluImm;
MAP1[0x83] = decAluImm;
MAP1[0x84] = decTest;
MAP1[0x85] = decTest;
MAP1[0xa8] = decTestAcc;
MAP1[0xa9] = decTestAcc;
MAP1[0xf6] = decGroup3;
MAP1[0xf7] = decGroup3;
MAP1[0xfe] = decGroup4;
for (let r = 0x40; r < 0x50; r++) MAP1[r] = decIncDecShort; // reached only outside 64-bit mode (REX there)
