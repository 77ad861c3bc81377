// The x87 FPU: opcodes D8..DF and FWAIT (9B). Arithmetic is exact 80-bit (x87-float80.ts); register-file layout
// and helpers for FXSAVE/FXRSTOR are in x87-state.ts.
//
// Exceptions: every operation accumulates IE DE ZE OE UE PE (and SF for stack faults) in FSW. An exception whose
// FCW mask bit is clear sets ES and B and is reported as #MF (if CR0.NE) at the next waiting x87 instruction; the
// "pre-computation" ones (IE, DE, ZE, stack faults) then leave the destination, TOP and memory unchanged, the
// "post-computation" ones (OE, UE: exponent rebiased by 24576 for register destinations, nothing stored to
// memory; PE) keep the result. CR0.EM or CR0.TS raise #NM for every x87 instruction, FWAIT only with TS and MP.
import { CR0_EM, CR0_MP, CR0_NE, CR0_TS, EXC_MF, EXC_NM, FLAG_CF, FLAG_PF, FLAG_ZF, FLAGS_ARITH, RAX, SEG_CS, SEG_DS } from '../constants.js';
import { lazyCF, lazyPF, lazyZF, setArithFlags } from '../flags.js';
import { S_CR0, S_FCW, S_FDP, S_FIP, S_FOP, S_FPR_RAW, S_FPU_TOP, S_FSW, S_FTW, S_SEG_SEL } from '../state.js';
import { MAP1, opUD, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, setReg } from '../operands.js';
import {
  add, classify, CL_BAD, CL_INF, CL_QNAN, CL_SNAN, CL_ZERO, compare, div, EX_DE, EX_IE, EX_SF,
  EX_ZE, extract, FMT32, FMT64, fx, loadBcd, loadConst, loadF32, loadF64, loadInt, mul, prem, R,
  RC_ZERO, roundInt, S, scale, setIndefinite, sqrt, storeBcd, storeFloat, storeInt, X,
} from './x87-float80.js';
import { T_COS, T_F2XM1, T_PATAN, T_SIN, T_TAN, T_YL2X, T_YL2XP1, trans1, trans2 } from './x87-trans.js';
import {
  abridgeTagWord, FSW_B, FSW_C0, FSW_C1, FSW_C2, FSW_C3, FSW_CC, FSW_ES, fullTagWord, readFsw, writeFsw,
} from './x87-state.js';

const EX_PRE = EX_IE | EX_DE | EX_ZE;

// ---------------------------------------------------------------- common machinery

/** #NM / pending #MF check at the start of a waiting x87 instruction; records FIP/FOP. */
function enter(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const cr0 = s[S_CR0];
  if ((cr0 & (CR0_EM | CR0_TS)) !== 0) cpu.fault(EXC_NM);
  if ((s[S_FSW] & FSW_ES) !== 0 && (cr0 & CR0_NE) !== 0) cpu.fault(EXC_MF);
  fx.exc = 0;
  fx.up = 0;
  fx.den = 0;
  s[S_FOP] = i.imm2;
  const l = (cpu.blockLo + i.start) | 0;
  s[S_FIP] = l;
  s[S_FIP + 1] = (l >>> 0) < (cpu.blockLo >>> 0) ? (cpu.blockHi + 1) | 0 : cpu.blockHi;
}

/** Entry of a control instruction (FNINIT, FNSTSW, ...): #NM only. */
function enterNoWait(cpu: X86Cpu): void {
  if ((cpu.s[S_CR0] & (CR0_EM | CR0_TS)) !== 0) cpu.fault(EXC_NM);
  fx.exc = 0;
  fx.up = 0;
}

/** Memory operand address (into cpu.eaLo/eaHi) and FDP. */
function fea(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  cpu.s[S_FDP] = cpu.eaLo;
  cpu.s[S_FDP + 1] = cpu.eaHi;
}

/**
 * Fold fx.exc into FSW. Returns true if the operation may complete (no unmasked pre-computation exception).
 * C1 is set from fx.up (rounded up) or the stack fault direction when `setC1`.
 */
function commit(s: Int32Array, setC1: boolean): boolean {
  const exc = fx.exc;
  let fsw = s[S_FSW];
  if (setC1) fsw = (fsw & ~FSW_C1) | (fx.up !== 0 ? FSW_C1 : 0);
  fsw |= exc & 0x7f;
  const unmasked = exc & ~s[S_FCW] & 0x3f;
  if (unmasked !== 0) fsw |= FSW_ES | FSW_B;
  s[S_FSW] = fsw;
  return (unmasked & EX_PRE) === 0;
}

function phys(s: Int32Array, k: number): number {
  return (s[S_FPU_TOP] + k) & 7;
}

function empty(s: Int32Array, p: number): boolean {
  return ((s[S_FTW] >> p) & 1) === 0;
}

/** Stack underflow: IE + SF, C1 = 0. */
function underflow(): void {
  fx.exc |= EX_IE | EX_SF;
  fx.up = 0;
}

/** Stack overflow: IE + SF, C1 = 1. */
function overflow(): void {
  fx.exc |= EX_IE | EX_SF;
  fx.up = 1;
}

function setPhys(s: Int32Array, p: number, lo: number, hi: number, se: number): void {
  const k = S_FPR_RAW + 3 * p;
  s[k] = lo; s[k + 1] = hi; s[k + 2] = se & 0xffff;
  s[S_FTW] |= 1 << p;
}

function setPhysR(s: Int32Array, p: number): void {
  setPhys(s, p, R[0], R[1], R[2]);
}

function pop(s: Int32Array): void {
  const t = s[S_FPU_TOP] & 7;
  s[S_FTW] &= ~(1 << t);
  s[S_FPU_TOP] = (t + 1) & 7;
}

/**
 * Push R: on overflow (ST7 in use) raise IE/SF/C1 and, if masked, push the indefinite instead. Commits the
 * exceptions accumulated so far; returns false if nothing was pushed. An unmasked DE (denormal m32/m64 source)
 * does not prevent the load.
 */
function pushR(s: Int32Array): boolean {
  const t = (s[S_FPU_TOP] - 1) & 7;
  if (!empty(s, t)) { overflow(); setIndefinite(); }
  if (!commit(s, true) && (fx.exc & ~s[S_FCW] & (EX_IE | EX_ZE)) !== 0) return false;
  s[S_FPU_TOP] = t;
  setPhysR(s, t);
  return true;
}

// Operand scratch (raw values read from registers or converted from memory).
let oL = 0, oH = 0, oS = 0;

function readPhys(s: Int32Array, p: number): void {
  const k = S_FPR_RAW + 3 * p;
  oL = s[k]; oH = s[k + 1]; oS = s[k + 2] & 0xffff;
}

// ---------------------------------------------------------------- arithmetic

const OP_ADD = 0, OP_MUL = 1, OP_COM = 2, OP_COMP = 3, OP_SUB = 4, OP_SUBR = 5, OP_DIV = 6, OP_DIVR = 7;

/** R = a op b (a, b raw). */
function arith(op: number, al: number, ah: number, ase: number, bl: number, bh: number, bse: number, fcw: number): void {
  switch (op) {
    case OP_ADD: add(al, ah, ase, bl, bh, bse, false, fcw); break;
    case OP_MUL: mul(al, ah, ase, bl, bh, bse, fcw); break;
    case OP_SUB: add(al, ah, ase, bl, bh, bse, true, fcw); break;
    case OP_SUBR: add(bl, bh, bse, al, ah, ase, true, fcw); break;
    case OP_DIV: div(al, ah, ase, bl, bh, bse, fcw); break;
    default: div(bl, bh, bse, al, ah, ase, fcw); break;
  }
}

/** Condition codes C3 C2 C0 for a compare result (0 >, 1 <, 2 =, 3 unordered). */
const CMP_CC = [0, FSW_C0, FSW_C3, FSW_C3 | FSW_C2 | FSW_C0];
const CMP_FLAGS = [0, FLAG_CF, FLAG_ZF, FLAG_ZF | FLAG_PF | FLAG_CF];

/** ST0 op (memory operand already converted to oL/oH/oS); i.op selects the operation (2/3: compare). */
function st0OpMem(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const p = phys(s, 0);
  const op = i.op;
  const bl = oL, bh = oH, bse = oS;
  if (op === OP_COM || op === OP_COMP) {
    let r = 3;
    if (empty(s, p)) underflow();
    else { readPhys(s, p); r = compare(oL, oH, oS, bl, bh, bse, false); }
    fx.up = 0;
    const ok = commit(s, true);
    s[S_FSW] = (s[S_FSW] & ~(FSW_C0 | FSW_C2 | FSW_C3)) | CMP_CC[r]; // set even for unmasked IE/DE
    if (!ok) return;
    if (op === OP_COMP) pop(s);
    return;
  }
  if (empty(s, p)) { underflow(); setIndefinite(); }
  else { readPhys(s, p); arith(op, oL, oH, oS, bl, bh, bse, s[S_FCW]); }
  if (!commit(s, true)) return;
  setPhysR(s, p);
}

function arithM32(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const v = cpu.read32(cpu.eaLo, cpu.eaHi);
  loadF32(v);
  if ((v & 0x7fc00000) === 0x7f800000 && (v & 0x3fffff) !== 0) { R[1] &= ~0x40000000; fx.exc &= ~EX_IE; } // keep SNaN signalling for the operation
  if ((fx.exc & EX_DE) !== 0) { fx.den = 1; fx.exc &= ~EX_DE; }
  oL = R[0]; oH = R[1]; oS = R[2];
  st0OpMem(cpu, i);
}

function arithM64(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const lo = cpu.read64(cpu.eaLo, cpu.eaHi), hi = cpu.rdHi;
  loadF64(lo, hi);
  if ((hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x7ffff) | lo) !== 0) { R[1] &= ~0x40000000; fx.exc &= ~EX_IE; }
  if ((fx.exc & EX_DE) !== 0) { fx.den = 1; fx.exc &= ~EX_DE; }
  oL = R[0]; oH = R[1]; oS = R[2];
  st0OpMem(cpu, i);
}

function arithI16(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const v = (cpu.read16(cpu.eaLo, cpu.eaHi) << 16) >> 16;
  loadInt(v, v >> 31);
  oL = R[0]; oH = R[1]; oS = R[2];
  st0OpMem(cpu, i);
}

function arithI32(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const v = cpu.read32(cpu.eaLo, cpu.eaHi);
  loadInt(v, v >> 31);
  oL = R[0]; oH = R[1]; oS = R[2];
  st0OpMem(cpu, i);
}

/**
 * Register forms: ST(dst) = ST(dst) op ST(src). Returns false when an unmasked exception left the destination
 * unchanged (then nothing else of the instruction happens).
 */
function arithRegs(cpu: X86Cpu, i: Insn, dst: number, src: number): boolean {
  enter(cpu, i);
  const s = cpu.s;
  const pd = phys(s, dst), ps = phys(s, src);
  if (empty(s, pd) || empty(s, ps)) { underflow(); setIndefinite(); }
  else {
    readPhys(s, ps);
    const bl = oL, bh = oH, bse = oS;
    readPhys(s, pd);
    arith(i.op, oL, oH, oS, bl, bh, bse, s[S_FCW]);
  }
  if (!commit(s, true)) return false;
  setPhysR(s, pd);
  return true;
}

/** D8 reg: ST0 = ST0 op ST(i). */
function arithSt0(cpu: X86Cpu, i: Insn): void {
  arithRegs(cpu, i, 0, i.immLo);
}

/** DC/DE reg: ST(i) = ST(i) op ST0 (i.op already swapped for the reversed encodings); i.size = 1: pop. */
function arithStI(cpu: X86Cpu, i: Insn): void {
  if (arithRegs(cpu, i, i.immLo, 0) && i.size === 1) pop(cpu.s);
}

/** FCOM/FCOMP/FCOMPP/FUCOM*: i.op = pops (0..2) | 4 for the quiet (unordered) compare. */
function fcomReg(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0), pi = phys(s, i.immLo);
  let r = 3;
  if (empty(s, p0) || empty(s, pi)) underflow();
  else {
    readPhys(s, pi);
    const bl = oL, bh = oH, bse = oS;
    readPhys(s, p0);
    r = compare(oL, oH, oS, bl, bh, bse, (i.op & 4) !== 0);
  }
  fx.up = 0;
  const ok = commit(s, true);
  s[S_FSW] = (s[S_FSW] & ~(FSW_C0 | FSW_C2 | FSW_C3)) | CMP_CC[r]; // set even for unmasked IE/DE
  if (!ok) return;
  const pops = i.op & 3;
  if (pops >= 1) pop(s);
  if (pops === 2) pop(s);
}

/** FCOMI/FCOMIP/FUCOMI/FUCOMIP: i.op = pops | 4 quiet. Sets ZF PF CF, clears OF SF AF. */
function fcomi(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0), pi = phys(s, i.immLo);
  let r = 3;
  if (empty(s, p0) || empty(s, pi)) underflow();
  else {
    readPhys(s, pi);
    const bl = oL, bh = oH, bse = oS;
    readPhys(s, p0);
    r = compare(oL, oH, oS, bl, bh, bse, (i.op & 4) !== 0);
  }
  fx.up = 0;
  const ok = commit(s, true);
  setArithFlags(s, CMP_FLAGS[r], FLAGS_ARITH); // set even for unmasked IE/DE
  if (!ok) return;
  if ((i.op & 3) !== 0) pop(s);
}

/** FTST: compare ST0 with +0. */
function ftst(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0);
  let r = 3;
  if (empty(s, p0)) underflow();
  else { readPhys(s, p0); r = compare(oL, oH, oS, 0, 0, 0, false); }
  fx.up = 0;
  const ok = commit(s, true);
  s[S_FSW] = (s[S_FSW] & ~(FSW_C0 | FSW_C2 | FSW_C3)) | CMP_CC[r]; // set even for unmasked IE/DE
  if (!ok) return;
}

/** FXAM: classify ST0 into C3 C2 C0, sign into C1. */
function fxam(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0);
  readPhys(s, p0);
  let cc: number;
  if (empty(s, p0)) cc = FSW_C3 | FSW_C0;
  else {
    const e = oS & 0x7fff;
    switch (classify(oL, oH, oS)) {
      case CL_ZERO: cc = FSW_C3; break;
      case CL_INF: cc = FSW_C2 | FSW_C0; break;
      case CL_QNAN: case CL_SNAN: cc = FSW_C0; break;
      case CL_BAD: cc = 0; break;
      default: cc = e === 0 ? FSW_C3 | FSW_C2 : FSW_C2; break;
    }
  }
  if ((oS & 0x8000) !== 0) cc |= FSW_C1;
  s[S_FSW] = (s[S_FSW] & ~FSW_CC) | cc;
}

// ---------------------------------------------------------------- loads and stores

function fldM32(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  loadF32(cpu.read32(cpu.eaLo, cpu.eaHi));
  pushR(cpu.s);
}

function fldM64(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const lo = cpu.read64(cpu.eaLo, cpu.eaHi);
  loadF64(lo, cpu.rdHi);
  pushR(cpu.s);
}

function fldM80(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const lo = cpu.read64(cpu.eaLo, cpu.eaHi), hi = cpu.rdHi;
  const a = (cpu.eaLo + 8) | 0;
  const se = cpu.read16(a, (a >>> 0) < (cpu.eaLo >>> 0) ? (cpu.eaHi + 1) | 0 : cpu.eaHi);
  R[0] = lo; R[1] = hi; R[2] = se;
  pushR(cpu.s);
}

/** FILD m16/m32/m64: i.size = 2, 4, 8. */
function fild(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  if (i.size === 2) { const v = (cpu.read16(cpu.eaLo, cpu.eaHi) << 16) >> 16; loadInt(v, v >> 31); }
  else if (i.size === 4) { const v = cpu.read32(cpu.eaLo, cpu.eaHi); loadInt(v, v >> 31); }
  else { const lo = cpu.read64(cpu.eaLo, cpu.eaHi); loadInt(lo, cpu.rdHi); }
  pushR(cpu.s);
}

function fbld(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const b = bcdBuf;
  for (let k = 0; k < 10; k++) {
    const a = (cpu.eaLo + k) | 0;
    b[k] = cpu.read8(a, (a >>> 0) < (cpu.eaLo >>> 0) ? (cpu.eaHi + 1) | 0 : cpu.eaHi);
  }
  loadBcd(b);
  pushR(cpu.s);
}

const bcdBuf = new Uint8Array(10);

/** FLD ST(i). */
function fldSt(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p = phys(s, i.immLo);
  if (empty(s, p)) { underflow(); setIndefinite(); }
  else { readPhys(s, p); R[0] = oL; R[1] = oH; R[2] = oS; }
  const t = (s[S_FPU_TOP] - 1) & 7;
  if (!empty(s, t)) { overflow(); setIndefinite(); }
  if (!commit(s, true)) return;
  s[S_FPU_TOP] = t;
  setPhysR(s, t);
}

/** FLD1, FLDZ, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2: i.op = 0 one, 1 zero, 2.. constants (k - 2). */
function fldConst(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  if (i.op === 0) { R[0] = 0; R[1] = 0x80000000 | 0; R[2] = 0x3fff; }
  else if (i.op === 1) { R[0] = 0; R[1] = 0; R[2] = 0; }
  else loadConst(i.op - 2, s[S_FCW]);
  pushR(s);
}

/** ST0 for a store: R = ST0 or, on underflow, the indefinite (with IE/SF). Returns false if ST0 was empty. */
function st0ForStore(s: Int32Array): boolean {
  const p = phys(s, 0);
  if (empty(s, p)) { underflow(); setIndefinite(); oL = R[0]; oH = R[1]; oS = R[2]; return false; }
  readPhys(s, p);
  return true;
}

/** FST/FSTP m32fp, m64fp: i.size = 4 or 8; i.op = 1: pop. */
function fstFloat(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const s = cpu.s;
  const fcw = s[S_FCW];
  let ok: boolean;
  if (!st0ForStore(s)) {
    ok = (fcw & EX_IE) !== 0;
    S[0] = i.size === 4 ? 0xffc00000 | 0 : 0; S[1] = 0xfff80000 | 0;
  } else ok = storeFloat(oL, oH, oS, i.size === 4 ? FMT32 : FMT64, fcw);
  if (ok) {
    if (i.size === 4) cpu.write32(cpu.eaLo, cpu.eaHi, S[0]);
    else cpu.write64(cpu.eaLo, cpu.eaHi, S[0], S[1]);
  }
  if (!commit(s, true) || !ok) return;
  if (i.op === 1) pop(s);
}

/** FSTP m80 (raw). */
function fstpM80(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const s = cpu.s;
  if (!st0ForStore(s) && (s[S_FCW] & EX_IE) === 0) { commit(s, true); return; }
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, 10);
  cpu.write64(cpu.eaLo, cpu.eaHi, oL, oH);
  const a = (cpu.eaLo + 8) | 0;
  cpu.write16(a, (a >>> 0) < (cpu.eaLo >>> 0) ? (cpu.eaHi + 1) | 0 : cpu.eaHi, oS);
  commit(s, true);
  pop(s);
}

/** FIST/FISTP/FISTTP: i.size = 2, 4, 8; i.op bit 0: pop, bit 1: truncate. */
function fist(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const s = cpu.s;
  const fcw = s[S_FCW];
  let ok: boolean;
  if (!st0ForStore(s)) {
    ok = (fcw & EX_IE) !== 0;
    S[0] = i.size === 2 ? 0x8000 : i.size === 4 ? 0x80000000 | 0 : 0; S[1] = 0x80000000 | 0;
  } else ok = storeInt(oL, oH, oS, i.size * 8, (i.op & 2) !== 0 ? RC_ZERO : (fcw >> 10) & 3, fcw);
  if (ok) {
    if (i.size === 2) cpu.write16(cpu.eaLo, cpu.eaHi, S[0]);
    else if (i.size === 4) cpu.write32(cpu.eaLo, cpu.eaHi, S[0]);
    else cpu.write64(cpu.eaLo, cpu.eaHi, S[0], S[1]);
  }
  if (!commit(s, true) || !ok) return;
  if ((i.op & 1) !== 0) pop(s);
}

function fbstp(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  fea(cpu, i);
  const s = cpu.s;
  const fcw = s[S_FCW];
  let ok: boolean;
  const b = bcdBuf;
  if (!st0ForStore(s)) {
    ok = (fcw & EX_IE) !== 0;
    b.fill(0); b[7] = 0xc0; b[8] = 0xff; b[9] = 0xff;
  } else ok = storeBcd(oL, oH, oS, fcw, b);
  if (ok) {
    cpu.probeWrite(cpu.eaLo, cpu.eaHi, 10);
    for (let k = 0; k < 10; k++) {
      const a = (cpu.eaLo + k) | 0;
      cpu.write8(a, (a >>> 0) < (cpu.eaLo >>> 0) ? (cpu.eaHi + 1) | 0 : cpu.eaHi, b[k]);
    }
  }
  if (!commit(s, true) || !ok) return;
  pop(s);
}

/** FST/FSTP ST(i): i.op = 1: pop. */
function fstSt(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  st0ForStore(s);
  if (!commit(s, true)) return;
  setPhys(s, phys(s, i.immLo), oL, oH, oS);
  if (i.op === 1) pop(s);
}

function fxch(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0), pi = phys(s, i.immLo);
  if (empty(s, p0) || empty(s, pi)) {
    underflow();
    if (!commit(s, true)) return;
    if (empty(s, p0)) setPhys(s, p0, 0, 0xc0000000 | 0, 0xffff);
    if (empty(s, pi)) setPhys(s, pi, 0, 0xc0000000 | 0, 0xffff);
  } else commit(s, true);
  readPhys(s, p0);
  const l0 = oL, h0 = oH, e0 = oS;
  readPhys(s, pi);
  setPhys(s, p0, oL, oH, oS);
  setPhys(s, pi, l0, h0, e0);
}

/** FCMOVcc: i.op = condition (0 B, 1 E, 2 BE, 3 U) | 4 negate. */
function fcmov(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  let c: boolean;
  switch (i.op & 3) {
    case 0: c = lazyCF(s) !== 0; break;
    case 1: c = lazyZF(s); break;
    case 2: c = lazyCF(s) !== 0 || lazyZF(s); break;
    default: c = lazyPF(s); break;
  }
  if ((i.op & 4) !== 0) c = !c;
  const p0 = phys(s, 0), pi = phys(s, i.immLo);
  if (empty(s, p0) || empty(s, pi)) {
    underflow();
    if (!commit(s, true)) return;
    setPhys(s, p0, 0, 0xc0000000 | 0, 0xffff);
    return;
  }
  fx.up = 0;
  commit(s, true);
  if (c) { readPhys(s, pi); setPhys(s, p0, oL, oH, oS); }
}

// ---------------------------------------------------------------- one-operand arithmetic on ST0

/** FCHS (op 0), FABS (op 1). */
function fsign(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0);
  if (empty(s, p0)) { underflow(); if (commit(s, true)) setPhys(s, p0, 0, 0xc0000000 | 0, 0xffff); return; }
  readPhys(s, p0);
  commit(s, true);
  setPhys(s, p0, oL, oH, i.op === 0 ? oS ^ 0x8000 : oS & 0x7fff);
}

const UN_SQRT = 0, UN_RNDINT = 1, UN_F2XM1 = 2, UN_SIN = 3, UN_COS = 4;

/** ST0 = f(ST0): FSQRT, FRNDINT, F2XM1, FSIN, FCOS. */
function unary(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0);
  const fcw = s[S_FCW];
  let c2 = false;
  if (empty(s, p0)) { underflow(); setIndefinite(); }
  else {
    readPhys(s, p0);
    switch (i.op) {
      case UN_SQRT: sqrt(oL, oH, oS, fcw); break;
      case UN_RNDINT: roundInt(oL, oH, oS, fcw); break;
      case UN_F2XM1: trans1(T_F2XM1, oL, oH, oS, fcw); break;
      case UN_SIN: c2 = trans1(T_SIN, oL, oH, oS, fcw); break;
      default: c2 = trans1(T_COS, oL, oH, oS, fcw); break;
    }
  }
  if (!commit(s, true)) return;
  if (i.op === UN_SIN || i.op === UN_COS) s[S_FSW] = (s[S_FSW] & ~FSW_C2) | (c2 ? FSW_C2 : 0);
  if (c2) return; // operand out of range: unchanged
  setPhysR(s, p0);
}

/** FSINCOS (op 0) and FPTAN (op 1): replace ST0 and push a second value. */
function fsincosTan(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const fcw = s[S_FCW];
  const p0 = phys(s, 0);
  const t = (s[S_FPU_TOP] - 1) & 7;
  let l1: number, h1: number, e1: number;
  if (empty(s, p0)) {
    underflow(); setIndefinite();
    l1 = R[0]; h1 = R[1]; e1 = R[2];
  } else if (!empty(s, t)) {
    overflow(); setIndefinite();
    l1 = R[0]; h1 = R[1]; e1 = R[2];
  } else {
    readPhys(s, p0);
    const cl = classify(oL, oH, oS);
    if (cl !== CL_INF && cl < CL_QNAN && (oS & 0x7fff) >= 16383 + 63) {
      if (commit(s, true)) s[S_FSW] |= FSW_C2;
      return;
    }
    if (i.op === 0) {
      // FSINCOS: ST0 = cos, ST1 = sin (the sine replaces x, the cosine is pushed)
      trans1(T_SIN, oL, oH, oS, fcw);
      const sl = R[0], sh = R[1], se = R[2];
      trans1(T_COS, oL, oH, oS, fcw);
      l1 = R[0]; h1 = R[1]; e1 = R[2];
      R[0] = sl; R[1] = sh; R[2] = se;
      if (cl === CL_QNAN || cl === CL_SNAN || cl === CL_BAD || cl === CL_INF) { l1 = R[0]; h1 = R[1]; e1 = R[2]; }
    } else {
      trans1(T_TAN, oL, oH, oS, fcw);
      l1 = 0; h1 = 0x80000000 | 0; e1 = 0x3fff;
      if (cl === CL_QNAN || cl === CL_SNAN || cl === CL_BAD || cl === CL_INF) { l1 = R[0]; h1 = R[1]; e1 = R[2]; }
    }
  }
  if (!commit(s, true)) return;
  s[S_FSW] &= ~FSW_C2;
  setPhysR(s, p0);
  s[S_FPU_TOP] = t;
  setPhys(s, t, l1, h1, e1);
}

const BIN_SCALE = 0, BIN_PREM = 1, BIN_PREM1 = 2, BIN_YL2X = 3, BIN_YL2XP1 = 4, BIN_PATAN = 5;

/** Two-operand ST0/ST1 instructions: FSCALE, FPREM, FPREM1 (result in ST0); FYL2X, FYL2XP1, FPATAN (ST1, pop). */
function binary(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const fcw = s[S_FCW];
  const p0 = phys(s, 0), p1 = phys(s, 1);
  const op = i.op;
  let cc = -2;
  if (empty(s, p0) || empty(s, p1)) { underflow(); setIndefinite(); }
  else {
    readPhys(s, p1);
    const bl = oL, bh = oH, bse = oS;
    readPhys(s, p0);
    switch (op) {
      case BIN_SCALE: scale(oL, oH, oS, bl, bh, bse, fcw); break;
      case BIN_PREM: cc = prem(oL, oH, oS, bl, bh, bse, false, fcw); break;
      case BIN_PREM1: cc = prem(oL, oH, oS, bl, bh, bse, true, fcw); break;
      case BIN_YL2X: trans2(T_YL2X, oL, oH, oS, bl, bh, bse, fcw); break;
      case BIN_YL2XP1: trans2(T_YL2XP1, oL, oH, oS, bl, bh, bse, fcw); break;
      default: trans2(T_PATAN, oL, oH, oS, bl, bh, bse, fcw); break;
    }
  }
  if (!commit(s, true)) return;
  if (op === BIN_PREM || op === BIN_PREM1) {
    const c = cc < 0 ? 0 : cc;
    s[S_FSW] = (s[S_FSW] & ~FSW_CC) | c;
  }
  if (op <= BIN_PREM1) { setPhysR(s, p0); return; }
  setPhysR(s, p1);
  pop(s);
}

/** FXTRACT. */
function fxtract(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  const p0 = phys(s, 0);
  const t = (s[S_FPU_TOP] - 1) & 7;
  if (empty(s, p0)) { underflow(); setIndefinite(); X[0] = R[0]; X[1] = R[1]; X[2] = R[2]; }
  else if (!empty(s, t)) { overflow(); setIndefinite(); X[0] = R[0]; X[1] = R[1]; X[2] = R[2]; }
  else { readPhys(s, p0); if (!extract(oL, oH, oS, s[S_FCW])) { commit(s, true); return; } }
  if (!commit(s, true)) return;
  setPhys(s, p0, X[0], X[1], X[2]);
  s[S_FPU_TOP] = t;
  setPhysR(s, t);
}

// ---------------------------------------------------------------- stack and control

function ffree(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  s[S_FTW] &= ~(1 << phys(s, i.immLo));
  if (i.op === 1) pop(s);
}

/** FINCSTP (op 1) / FDECSTP (op -1). */
function fincdec(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  const s = cpu.s;
  s[S_FPU_TOP] = (s[S_FPU_TOP] + i.op) & 7;
  s[S_FSW] &= ~FSW_C1;
}

function fnop(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
}

function fwait(cpu: X86Cpu, _i: Insn): void {
  const s = cpu.s;
  const cr0 = s[S_CR0];
  if ((cr0 & (CR0_TS | CR0_MP)) === (CR0_TS | CR0_MP)) cpu.fault(EXC_NM);
  if ((s[S_FSW] & FSW_ES) !== 0 && (cr0 & CR0_NE) !== 0) cpu.fault(EXC_MF);
}

/** Reset to the FNINIT state. */
export function fpuInit(s: Int32Array): void {
  s[S_FCW] = 0x37f;
  s[S_FSW] = 0;
  s[S_FPU_TOP] = 0;
  s[S_FTW] = 0;
  s[S_FOP] = 0;
  s[S_FIP] = 0; s[S_FIP + 1] = 0;
  s[S_FDP] = 0; s[S_FDP + 1] = 0;
}

function fninit(cpu: X86Cpu, _i: Insn): void {
  enterNoWait(cpu);
  fpuInit(cpu.s);
}

function fnclex(cpu: X86Cpu, _i: Insn): void {
  enterNoWait(cpu);
  cpu.s[S_FSW] &= ~0x80ff;
}

/** No-op legacy control instructions (FENI, FDISI, FSETPM): #NM checks only. */
function fnControlNop(cpu: X86Cpu, _i: Insn): void {
  enterNoWait(cpu);
}

/** Recompute ES and B after FCW or FSW changed wholesale (FLDCW, FLDENV, FRSTOR). */
function updateSummary(s: Int32Array): void {
  const pend = (s[S_FSW] & ~s[S_FCW] & 0x3f) !== 0;
  s[S_FSW] = pend ? s[S_FSW] | FSW_ES | FSW_B : s[S_FSW] & ~(FSW_ES | FSW_B);
}

function fldcw(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  ea(cpu, i);
  const s = cpu.s;
  s[S_FCW] = cpu.read16(cpu.eaLo, cpu.eaHi) | 0x40; // bit 6 reads as one
  updateSummary(s);
}

function fnstcw(cpu: X86Cpu, i: Insn): void {
  enterNoWait(cpu);
  ea(cpu, i);
  cpu.write16(cpu.eaLo, cpu.eaHi, cpu.s[S_FCW]);
}

function fnstswM(cpu: X86Cpu, i: Insn): void {
  enterNoWait(cpu);
  ea(cpu, i);
  cpu.write16(cpu.eaLo, cpu.eaHi, readFsw(cpu.s));
}

function fnstswAx(cpu: X86Cpu, _i: Insn): void {
  enterNoWait(cpu);
  setReg(cpu.s, 2, RAX, readFsw(cpu.s), 0);
}

function addr(lo: number, hi: number, off: number): number {
  const a = (lo + off) | 0;
  envHi = (a >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  return a;
}
let envHi = 0;

/** Store the environment (28 bytes, or 14 with a 16-bit operand size) at cpu.eaLo/eaHi; returns its size. */
function storeEnv(cpu: X86Cpu, i: Insn): number {
  const s = cpu.s;
  const lo = cpu.eaLo, hi = cpu.eaHi;
  const cs = s[S_SEG_SEL + SEG_CS] & 0xffff, ds = s[S_SEG_SEL + SEG_DS] & 0xffff;
  if (i.size === 2) {
    const w = [s[S_FCW], readFsw(s), fullTagWord(s), s[S_FIP], cs, s[S_FDP], ds];
    for (let k = 0; k < 7; k++) cpu.write16(addr(lo, hi, 2 * k), envHi, w[k]);
    return 14;
  }
  cpu.write32(addr(lo, hi, 0), envHi, s[S_FCW] | 0xffff0000);
  cpu.write32(addr(lo, hi, 4), envHi, readFsw(s) | 0xffff0000);
  cpu.write32(addr(lo, hi, 8), envHi, fullTagWord(s) | 0xffff0000);
  cpu.write32(addr(lo, hi, 12), envHi, s[S_FIP]);
  cpu.write32(addr(lo, hi, 16), envHi, cs | ((s[S_FOP] & 0x7ff) << 16));
  cpu.write32(addr(lo, hi, 20), envHi, s[S_FDP]);
  cpu.write32(addr(lo, hi, 24), envHi, ds | 0xffff0000);
  return 28;
}

const envIn = new Int32Array(7);

/** Read an environment at cpu.eaLo/eaHi (no state change); returns its size. */
function readEnv(cpu: X86Cpu, i: Insn): number {
  const lo = cpu.eaLo, hi = cpu.eaHi;
  if (i.size === 2) {
    for (let k = 0; k < 7; k++) envIn[k] = cpu.read16(addr(lo, hi, 2 * k), envHi);
    envIn[4] = 0; // FOP is not part of the 16-bit protected-mode format
    return 14;
  }
  for (let k = 0; k < 7; k++) envIn[k] = cpu.read32(addr(lo, hi, 4 * k), envHi);
  envIn[4] = (envIn[4] >>> 16) & 0x7ff;
  return 28;
}

function applyEnv(s: Int32Array): void {
  s[S_FCW] = (envIn[0] & 0xffff) | 0x40;
  writeFsw(s, envIn[1] & 0xffff);
  s[S_FTW] = abridgeTagWord(envIn[2] & 0xffff);
  s[S_FIP] = envIn[3]; s[S_FIP + 1] = 0;
  s[S_FOP] = envIn[4];
  s[S_FDP] = envIn[5]; s[S_FDP + 1] = 0;
}

function fnstenv(cpu: X86Cpu, i: Insn): void {
  enterNoWait(cpu);
  ea(cpu, i);
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, i.size === 2 ? 14 : 28);
  storeEnv(cpu, i);
  cpu.s[S_FCW] |= 0x3f; // all exceptions masked afterwards
}

function fldenv(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  ea(cpu, i);
  readEnv(cpu, i);
  applyEnv(cpu.s);
}

function fnsave(cpu: X86Cpu, i: Insn): void {
  enterNoWait(cpu);
  ea(cpu, i);
  const s = cpu.s;
  const n = i.size === 2 ? 14 : 28;
  cpu.probeWrite(cpu.eaLo, cpu.eaHi, n + 80);
  storeEnv(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  for (let k = 0; k < 8; k++) {
    const q = S_FPR_RAW + 3 * phys(s, k);
    cpu.write32(addr(lo, hi, n + 10 * k), envHi, s[q]);
    cpu.write32(addr(lo, hi, n + 10 * k + 4), envHi, s[q + 1]);
    cpu.write16(addr(lo, hi, n + 10 * k + 8), envHi, s[q + 2]);
  }
  fpuInit(s);
}

const regsIn = new Int32Array(24);

function frstor(cpu: X86Cpu, i: Insn): void {
  enter(cpu, i);
  ea(cpu, i);
  const n = readEnv(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  for (let k = 0; k < 8; k++) {
    regsIn[3 * k] = cpu.read32(addr(lo, hi, n + 10 * k), envHi);
    regsIn[3 * k + 1] = cpu.read32(addr(lo, hi, n + 10 * k + 4), envHi);
    regsIn[3 * k + 2] = cpu.read16(addr(lo, hi, n + 10 * k + 8), envHi);
  }
  const s = cpu.s;
  applyEnv(s);
  for (let k = 0; k < 8; k++) {
    const q = S_FPR_RAW + 3 * phys(s, k);
    s[q] = regsIn[3 * k]; s[q + 1] = regsIn[3 * k + 1]; s[q + 2] = regsIn[3 * k + 2] & 0xffff;
  }
}

// ---------------------------------------------------------------- decoding

/** Memory forms per opcode (D8..DF) and ModRM.reg: [handler, op, size]. */
type MemForm = [((cpu: X86Cpu, i: Insn) => void) | null, number, number];
const ARITH_OPS = [OP_ADD, OP_MUL, OP_COM, OP_COMP, OP_SUB, OP_SUBR, OP_DIV, OP_DIVR];
const MEM: MemForm[][] = [
  ARITH_OPS.map((op): MemForm => [arithM32, op, 4]),
  [[fldM32, 0, 4], [null, 0, 0], [fstFloat, 0, 4], [fstFloat, 1, 4], [fldenv, 0, 0], [fldcw, 0, 2], [fnstenv, 0, 0], [fnstcw, 0, 2]],
  ARITH_OPS.map((op): MemForm => [arithI32, op, 4]),
  [[fild, 0, 4], [fist, 3, 4], [fist, 0, 4], [fist, 1, 4], [null, 0, 0], [fldM80, 0, 10], [null, 0, 0], [fstpM80, 1, 10]],
  ARITH_OPS.map((op): MemForm => [arithM64, op, 8]),
  [[fldM64, 0, 8], [fist, 3, 8], [fstFloat, 0, 8], [fstFloat, 1, 8], [frstor, 0, 0], [null, 0, 0], [fnsave, 0, 0], [fnstswM, 0, 2]],
  ARITH_OPS.map((op): MemForm => [arithI16, op, 2]),
  [[fild, 0, 2], [fist, 3, 2], [fist, 0, 2], [fist, 1, 2], [fbld, 0, 10], [fild, 0, 8], [fbstp, 1, 10], [fist, 1, 8]],
];

const SWAP_REV = [0, 1, 2, 3, 5, 4, 7, 6];

function decodeReg(d: Decoder, i: Insn, opc: number, m: number): void {
  const reg = (m >> 3) & 7, k = m & 7;
  i.immLo = k;
  switch (opc) {
    case 0: // D8: ST0 = ST0 op ST(i)
      if (reg === 2 || reg === 3) { i.exec = fcomReg; i.op = reg - 2; return; }
      i.exec = arithSt0; i.op = reg; return;
    case 1: // D9
      switch (reg) {
        case 0: i.exec = fldSt; return;
        case 1: i.exec = fxch; return;
        case 2: if (k === 0) { i.exec = fnop; return; } break;
        case 3: i.exec = fstSt; i.op = 1; return; // FSTP1 (undocumented alias)
        case 4:
          switch (k) {
            case 0: i.exec = fsign; i.op = 0; return;
            case 1: i.exec = fsign; i.op = 1; return;
            case 4: i.exec = ftst; return;
            case 5: i.exec = fxam; return;
          }
          break;
        case 5:
          if (k === 7) break;
          i.exec = fldConst; i.op = k === 0 ? 0 : k === 6 ? 1 : k + 1; return; // 1, L2T, L2E, PI, LG2, LN2, Z
        case 6:
          switch (k) {
            case 0: i.exec = unary; i.op = UN_F2XM1; return;
            case 1: i.exec = binary; i.op = BIN_YL2X; return;
            case 2: i.exec = fsincosTan; i.op = 1; return;
            case 3: i.exec = binary; i.op = BIN_PATAN; return;
            case 4: i.exec = fxtract; return;
            case 5: i.exec = binary; i.op = BIN_PREM1; return;
            case 6: i.exec = fincdec; i.op = -1; return;
            default: i.exec = fincdec; i.op = 1; return;
          }
        case 7:
          switch (k) {
            case 0: i.exec = binary; i.op = BIN_PREM; return;
            case 1: i.exec = binary; i.op = BIN_YL2XP1; return;
            case 2: i.exec = unary; i.op = UN_SQRT; return;
            case 3: i.exec = fsincosTan; i.op = 0; return;
            case 4: i.exec = unary; i.op = UN_RNDINT; return;
            case 5: i.exec = binary; i.op = BIN_SCALE; return;
            case 6: i.exec = unary; i.op = UN_SIN; return;
            default: i.exec = unary; i.op = UN_COS; return;
          }
      }
      break;
    case 2: // DA
      if (reg < 4) { i.exec = fcmov; i.op = reg; return; }
      if (reg === 5 && k === 1) { i.exec = fcomReg; i.op = 2 | 4; return; } // FUCOMPP
      break;
    case 3: // DB
      if (reg < 4) { i.exec = fcmov; i.op = reg | 4; return; }
      if (reg === 4) {
        switch (k) {
          case 2: i.exec = fnclex; return;
          case 3: i.exec = fninit; return;
          case 0: case 1: case 4: i.exec = fnControlNop; return;
        }
        break;
      }
      if (reg === 5) { i.exec = fcomi; i.op = 4; return; } // FUCOMI
      if (reg === 6) { i.exec = fcomi; i.op = 0; return; } // FCOMI
      break;
    case 4: // DC: ST(i) = ST(i) op ST0
      if (reg === 2 || reg === 3) { i.exec = fcomReg; i.op = reg - 2; return; } // FCOM2/FCOMP3 aliases
      i.exec = arithStI; i.op = SWAP_REV[reg]; i.size = 0; return;
    case 5: // DD
      switch (reg) {
        case 0: i.exec = ffree; i.op = 0; return;
        case 1: i.exec = fxch; return; // FXCH4 alias
        case 2: i.exec = fstSt; i.op = 0; return;
        case 3: i.exec = fstSt; i.op = 1; return;
        case 4: i.exec = fcomReg; i.op = 4; return; // FUCOM
        case 5: i.exec = fcomReg; i.op = 5; return; // FUCOMP
      }
      break;
    case 6: // DE: ST(i) = ST(i) op ST0, pop
      if (reg === 2) { i.exec = fcomReg; i.op = 1; return; } // FCOMP5 alias
      if (reg === 3) { if (k === 1) { i.exec = fcomReg; i.op = 2; return; } break; } // FCOMPP
      i.exec = arithStI; i.op = SWAP_REV[reg]; i.size = 1; return;
    default: // DF
      switch (reg) {
        case 0: i.exec = ffree; i.op = 1; return; // FFREEP
        case 1: i.exec = fxch; return; // FXCH7 alias
        case 2: case 3: i.exec = fstSt; i.op = 1; return; // FSTP8/FSTP9 aliases
        case 4: if (k === 0) { i.exec = fnstswAx; return; } break;
        case 5: i.exec = fcomi; i.op = 1 | 4; return; // FUCOMIP
        case 6: i.exec = fcomi; i.op = 1; return; // FCOMIP
      }
      break;
  }
  i.exec = opUD;
}

function decodeX87(d: Decoder, i: Insn): void {
  const opc = i.opcode - 0xd8;
  const m = d.modrm(i);
  i.imm2 = (opc << 8) | m; // FOP
  if ((m >> 6) === 3) { decodeReg(d, i, opc, m); return; }
  const f = MEM[opc][(m >> 3) & 7];
  if (f[0] === null) { i.exec = opUD; return; }
  const osize = i.size;
  i.exec = f[0];
  i.op = f[1];
  i.size = f[2] === 0 ? (osize === 2 ? 2 : 4) : f[2]; // environment forms: 66 selects the 16-bit format
}

function decodeFwait(_d: Decoder, i: Insn): void {
  i.exec = fwait;
}

for (let op = 0xd8; op <= 0xdf; op++) MAP1[op] = decodeX87;
MAP1[0x9b] = decodeFwait;
