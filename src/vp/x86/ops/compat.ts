// Instructions valid only outside 64-bit mode (compatibility mode under EFER.LMA, with 32- or 16-bit code
// segments): PUSHA/POPA, PUSH/POP ES CS SS DS, DAA DAS AAA AAS AAM AAD, BOUND, LES/LDS, ARPL, INTO, SALC,
// direct far JMP/CALL ptr16:16/32. In 64-bit mode every one of them is #UD (C4/C5 and 62 would be VEX/EVEX
// prefixes only if CPUID reported AVX/AVX-512, which it does not). INC/DEC 40-4F live in alu.ts.
//
// Segmentation is flat here as in the rest of the processor: only FS/GS bases are applied to linear addresses;
// CS/DS/ES/SS bases are cached on a load but treated as 0, and segment limits are not checked (Linux gives its
// 32-bit processes flat 4 GiB segments with base 0).
import {
  EXC_BR, EXC_DE, EXC_OF, FLAG_AF, FLAG_CF, FLAG_SF, FLAG_ZF, FLAGS_ARITH, RAX, RSP, SEG_CS, SEG_DS, SEG_ES,
  SEG_SS,
} from '../constants.js';
import { lazyCF, lazyOF, materializeFlags, PARITY } from '../flags.js';
import { S_INT_SHADOW, S_RFLAGS, S_RIP, S_SEG_ATTR, S_SEG_SEL } from '../state.js';
import { MAP1, opUD, type DecodeFn, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { adjustSp, ea, getReg, peek, push, readMem, setReg } from '../operands.js';
import { loadDataSegment } from '../segments.js';
import { deliverOnce, EV_SOFTWARE } from '../interrupts.js';
import { farTarget } from './control.js';

// ---------------------------------------------------------------- PUSHA / POPA

/** Linear address of the stack slot at SP - back (32-bit ESP, or SP when SS.B=0). */
function slotBelow(cpu: X86Cpu, back: number): number {
  const sp = cpu.s[2 * RSP];
  return (cpu.s[S_SEG_ATTR + SEG_SS] & 0x4000) !== 0 ? (sp - back) | 0 : (sp - back) & 0xffff;
}

/** PUSHA/PUSHAD: AX CX DX BX (original) SP BP SI DI. Every slot is checked writable before anything moves. */
function pusha(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  cpu.stackAccess = true;
  for (let k = 1; k <= 8; k++) cpu.probeWrite(slotBelow(cpu, k * size), 0, size);
  cpu.stackAccess = false;
  const sp = s[2 * RSP];
  for (let r = 0; r < 8; r++) push(cpu, size, r === RSP ? sp : s[2 * r], 0);
}

/** POPA/POPAD: DI SI BP (SP skipped) BX DX CX AX; all slots are read before any register changes. */
function popa(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const v = POPA_VALS;
  for (let k = 0; k < 8; k++) v[k] = peek(cpu, size, k * size);
  for (let k = 0; k < 8; k++) if (7 - k !== RSP) setReg(s, size, 7 - k, v[k], 0);
  adjustSp(cpu, 8 * size);
}
const POPA_VALS = new Int32Array(8);

// ---------------------------------------------------------------- PUSH / POP segment registers

/** PUSH sreg: the selector zero-extended to the operand size (Intel may write only 16 bits of a 32-bit slot). */
function pushSreg(cpu: X86Cpu, i: Insn): void {
  push(cpu, i.size, cpu.s[S_SEG_SEL + i.op], 0);
}

function popSreg(cpu: X86Cpu, i: Insn): void {
  const v = peek(cpu, i.size);
  loadDataSegment(cpu, i.op, v & 0xffff);
  adjustSp(cpu, i.size);
  if (i.op === SEG_SS) {
    // POP SS, like MOV SS, holds off interrupts until the next instruction has run (SDM vol. 3 6.8.3).
    cpu.s[S_INT_SHADOW] = 1;
    cpu.stopBlock = true;
  }
}

// ---------------------------------------------------------------- decimal arithmetic

/** Set CF and AF (as given) and SF/ZF/PF from the byte result; OF, an undefined flag here, is cleared. */
function bcdFlags(s: Int32Array, al: number, cf: number, af: number): void {
  const f = materializeFlags(s) & ~FLAGS_ARITH;
  s[S_RFLAGS] = f | cf | af | (al === 0 ? FLAG_ZF : 0) | (al & 0x80 ? FLAG_SF : 0) | PARITY[al];
}

/** DAA (SDM): adjust AL after a packed-BCD addition. OF undefined. */
function daa(cpu: X86Cpu, _i: Insn): void {
  const s = cpu.s;
  const f = materializeFlags(s);
  const old = s[2 * RAX] & 0xff, oldCf = f & FLAG_CF;
  let al = old, af = 0, cf = 0;
  if ((al & 0xf) > 9 || (f & FLAG_AF) !== 0) { al = (al + 6) & 0xff; af = FLAG_AF; }
  if (old > 0x99 || oldCf !== 0) { al = (al + 0x60) & 0xff; cf = FLAG_CF; }
  setReg(s, 1, RAX, al, 0);
  bcdFlags(s, al, cf, af);
}

/** DAS (SDM): adjust AL after a packed-BCD subtraction; the first step's borrow survives in CF. OF undefined. */
function das(cpu: X86Cpu, _i: Insn): void {
  const s = cpu.s;
  const f = materializeFlags(s);
  const old = s[2 * RAX] & 0xff, oldCf = f & FLAG_CF;
  let al = old, af = 0, cf = 0;
  if ((al & 0xf) > 9 || (f & FLAG_AF) !== 0) {
    cf = oldCf | (al < 6 ? FLAG_CF : 0);
    al = (al - 6) & 0xff;
    af = FLAG_AF;
  }
  if (old > 0x99 || oldCf !== 0) { al = (al - 0x60) & 0xff; cf = FLAG_CF; }
  setReg(s, 1, RAX, al, 0);
  bcdFlags(s, al, cf, af);
}

/** AAA/AAS (SDM): unpacked-BCD adjust of AX; CF = AF = "adjusted". OF SF ZF PF undefined (set from AL here). */
function aaaAas(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const f = materializeFlags(s);
  let ax = s[2 * RAX] & 0xffff;
  let adj = 0;
  if ((ax & 0xf) > 9 || (f & FLAG_AF) !== 0) {
    ax = i.op === 0 ? ax + 0x106 : ax - 6 - 0x100; // AAS: AX - 6 (borrowing from AH), then AH - 1
    adj = FLAG_CF | FLAG_AF;
  }
  ax &= 0xff0f; // AL keeps its low nibble
  setReg(s, 2, RAX, ax, 0);
  bcdFlags(s, ax & 0xff, adj & FLAG_CF, adj & FLAG_AF);
}

/** AAM imm8: AH = AL / imm8, AL = AL mod imm8 (#DE for 0). SF ZF PF from AL; OF AF CF undefined (cleared). */
function aam(cpu: X86Cpu, i: Insn): void {
  const base = i.immLo;
  if (base === 0) cpu.fault(EXC_DE);
  const s = cpu.s;
  const al = s[2 * RAX] & 0xff;
  const r = al % base;
  setReg(s, 2, RAX, ((((al - r) / base) & 0xff) << 8) | r, 0);
  bcdFlags(s, r, 0, 0);
}

/** AAD imm8: AL = (AL + AH * imm8) & 0xff, AH = 0. SF ZF PF from AL; OF AF CF undefined (cleared). */
function aad(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const ax = s[2 * RAX];
  const al = ((ax & 0xff) + ((ax >> 8) & 0xff) * i.immLo) & 0xff;
  setReg(s, 2, RAX, al, 0);
  bcdFlags(s, al, 0, 0);
}

/** SALC (D6, undocumented by Intel, executed by Intel and AMD parts outside 64-bit mode): AL = CF ? FF : 00. */
function salc(cpu: X86Cpu, _i: Insn): void {
  setReg(cpu.s, 1, RAX, lazyCF(cpu.s) !== 0 ? 0xff : 0, 0);
}

// ---------------------------------------------------------------- BOUND, LES/LDS, ARPL

/** BOUND r, m16&16 / m32&32: #BR (a fault) unless lower <= index <= upper, signed. */
function bound(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const aLo = cpu.eaLo, aHi = cpu.eaHi;
  let lower = readMem(cpu, size);
  const u = (aLo + size) | 0;
  let upper = size === 4 ? cpu.read32(u, aHi) : cpu.read16(i.asize === 2 ? u & 0xffff : u, aHi);
  let idx = getReg(cpu.s, size, i.reg);
  if (size === 2) { lower = (lower << 16) >> 16; upper = (upper << 16) >> 16; idx = (idx << 16) >> 16; }
  if (idx < lower || idx > upper) cpu.fault(EXC_BR);
}

/** LES/LDS r, m16:16/m16:32: the segment is loaded (and may fault) before the register is written. */
function loadFar(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  ea(cpu, i);
  const off = readMem(cpu, size);
  const a = (cpu.eaLo + size) | 0;
  const sel = cpu.read16(i.asize === 2 ? a & 0xffff : a, cpu.eaHi);
  loadDataSegment(cpu, i.op, sel);
  setReg(cpu.s, size, i.reg, off, 0);
}

/** ARPL r/m16, r16: raise the destination's RPL to the source's (ZF=1), else ZF=0; no other flag changes. */
function arpl(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  let dst: number;
  if (i.rm >= 0) dst = getReg(s, 2, i.rm);
  else { ea(cpu, i); dst = cpu.read16(cpu.eaLo, cpu.eaHi); }
  const rpl = getReg(s, 2, i.reg) & 3;
  const f = materializeFlags(s) & ~FLAG_ZF;
  if ((dst & 3) < rpl) {
    const v = (dst & ~3) | rpl;
    if (i.rm >= 0) setReg(s, 2, i.rm, v, 0);
    else cpu.write16(cpu.eaLo, cpu.eaHi, v);
    s[S_RFLAGS] = f | FLAG_ZF;
  } else s[S_RFLAGS] = f;
}

// ---------------------------------------------------------------- INTO, far JMP/CALL ptr16:xx

/** INTO: a software interrupt 4 (a trap: the frame's RIP follows the INTO) when OF=1. */
function into(cpu: X86Cpu, _i: Insn): void {
  if (!lazyOF(cpu.s)) return;
  const s = cpu.s;
  s[S_RIP] = cpu.nipLo;
  s[S_RIP + 1] = cpu.nipHi;
  deliverOnce(cpu, EXC_OF, -1, EV_SOFTWARE); // a fault here unwinds with RIP at the INTO
  cpu.nipLo = s[S_RIP];
  cpu.nipHi = s[S_RIP + 1];
  cpu.stopBlock = true;
}

function jmpFarDirect(cpu: X86Cpu, i: Insn): void {
  farTarget(cpu, i.imm2, i.immLo, 0, false, 0, i.size);
}

function callFarDirect(cpu: X86Cpu, i: Insn): void {
  farTarget(cpu, i.imm2, i.immLo, 0, false, 0, i.size, i.size);
}

// ---------------------------------------------------------------- decoding

/** Register `fn` for an opcode that is #UD in 64-bit mode, keeping any 64-bit meaning already registered. */
function outside64(op: number, fn: DecodeFn): void {
  const in64 = MAP1[op];
  MAP1[op] = (d, i) => {
    if (!d.mode64) fn(d, i);
    else if (in64 !== undefined) in64(d, i);
    else { i.exec = opUD; d.endBlock = true; }
  };
}

function simple(h: (cpu: X86Cpu, i: Insn) => void, op = 0): DecodeFn {
  return (_d, i) => { i.exec = h; i.op = op; };
}

function decPushSreg(seg: number): DecodeFn {
  return (_d, i) => { i.op = seg; i.exec = pushSreg; };
}

function decPopSreg(seg: number): DecodeFn {
  return (d, i) => { i.op = seg; i.exec = popSreg; d.endBlock = true; };
}

function decAamAad(d: Decoder, i: Insn): void {
  i.immLo = d.byte();
  i.exec = i.opcode === 0xd4 ? aam : aad;
}

/** Memory-only forms (BOUND, LES, LDS): a register operand is #UD (VEX/EVEX would need AVX support). */
function decMemOnly(h: (cpu: X86Cpu, i: Insn) => void, op: number): DecodeFn {
  return (d, i) => {
    d.modrm(i);
    i.op = op;
    i.exec = i.rm >= 0 ? opUD : h;
  };
}

function decArpl(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.size = 2;
  i.exec = arpl;
}

function decInto(d: Decoder, i: Insn): void {
  i.exec = into;
  d.endBlock = true;
}

function decFarDirect(d: Decoder, i: Insn): void {
  i.immLo = i.size === 2 ? d.u16() : d.s32();
  i.imm2 = d.u16();
  i.exec = i.opcode === 0xea ? jmpFarDirect : callFarDirect;
  d.endBlock = true;
}

outside64(0x60, simple(pusha));
outside64(0x61, simple(popa));
outside64(0x06, decPushSreg(SEG_ES));
outside64(0x07, decPopSreg(SEG_ES));
outside64(0x0e, decPushSreg(SEG_CS));
outside64(0x16, decPushSreg(SEG_SS));
outside64(0x17, decPopSreg(SEG_SS));
outside64(0x1e, decPushSreg(SEG_DS));
outside64(0x1f, decPopSreg(SEG_DS));
outside64(0x27, simple(daa));
outside64(0x2f, simple(das));
outside64(0x37, simple(aaaAas, 0));
outside64(0x3f, simple(aaaAas, 1));
outside64(0xd4, decAamAad);
outside64(0xd5, decAamAad);
outside64(0xd6, simple(salc));
outside64(0x62, decMemOnly(bound, 0));
outside64(0xc4, decMemOnly(loadFar, SEG_ES));
outside64(0xc5, decMemOnly(loadFar, SEG_DS));
outside64(0x63, decArpl);
outside64(0xce, decInto);
outside64(0x9a, decFarDirect);
outside64(0xea, decFarDirect);

