// Lazy arithmetic flags: the flag-setting instruction records (op, size, dst, src, result) in the state block
// and the six status flags are computed only when something reads them (Jcc, SETcc, PUSHF, ...). Most results
// are never read, so this saves work on every ALU instruction.
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, FLAGS_ARITH } from './constants.js';
import { S_LZ_AUX, S_LZ_DST, S_LZ_OP, S_LZ_RES, S_LZ_SIZE, S_LZ_SRC, S_RFLAGS } from './state.js';

export const LZ_NONE = 0; // flags are materialized in S_RFLAGS
export const LZ_ADD = 1;
export const LZ_ADC = 2;
export const LZ_SUB = 3;
export const LZ_SBB = 4;
export const LZ_LOGIC = 5;
export const LZ_INC = 6;
export const LZ_DEC = 7;
/**
 * IMUL r, r/m (and the immediate forms), sizes 4 and 8: CF = OF = "the signed product did not fit"; computed
 * only if read (compilers rarely test them). DST and SRC hold the factors, RES the truncated product.
 */
export const LZ_IMUL = 8;
/**
 * Or'ed into a lazy op (never LZ_NONE) by a rotate: ROL/ROR/RCL/RCR change only CF and OF, so instead of
 * materialising all six flags they keep the recorded op for SF, ZF, PF, AF and put CF (bit 0) and OF (bit 11)
 * in S_LZ_AUX (the base op's own AUX only ever fed its CF, which the rotate replaced). Measured: rotates in a
 * Linux boot spent ~4% of the run materialising flags they then overwrote.
 */
export const LZ_ROT = 16;

/** PARITY[b] is FLAG_PF when byte b has an even number of set bits. */
export const PARITY = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  PARITY[b] = n & 1 ? 0 : FLAG_PF;
}

/** Sign bit mask of the low word for sizes 1, 2, 4 (index by size). */
const SIGN = [0, 0x80, 0x8000, 0, 0x80000000 | 0];
const MASK = [0, 0xff, 0xffff, 0, -1];

function ult(a: number, b: number): boolean {
  return a >>> 0 < b >>> 0;
}

/** Unsigned (aHi:aLo) < (bHi:bLo). */
function ult64(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi === bHi ? aLo >>> 0 < bLo >>> 0 : aHi >>> 0 < bHi >>> 0;
}

/** Did the signed product of the recorded IMUL factors overflow its size? (rare path: BigInt is fine) */
function imulOverflow(s: Int32Array): boolean {
  if (s[S_LZ_SIZE] === 4) {
    const a = s[S_LZ_DST], b = s[S_LZ_SRC];
    return a * b !== Math.imul(a, b); // the double product is exact whenever it fits in 32 bits
  }
  const a = (BigInt(s[S_LZ_DST + 1]) << 32n) | BigInt(s[S_LZ_DST] >>> 0);
  const b = (BigInt(s[S_LZ_SRC + 1]) << 32n) | BigInt(s[S_LZ_SRC] >>> 0);
  const p = a * b;
  return BigInt.asIntN(64, p) !== p;
}

export function lazyCF(s: Int32Array): number {
  const op = s[S_LZ_OP];
  const size = s[S_LZ_SIZE];
  switch (op) {
    case LZ_NONE:
      return s[S_RFLAGS] & FLAG_CF;
    case LZ_ADD | LZ_ROT: case LZ_ADC | LZ_ROT: case LZ_SUB | LZ_ROT: case LZ_SBB | LZ_ROT:
    case LZ_LOGIC | LZ_ROT: case LZ_INC | LZ_ROT: case LZ_DEC | LZ_ROT: case LZ_IMUL | LZ_ROT:
      return s[S_LZ_AUX] & FLAG_CF;
    case LZ_LOGIC:
      return 0;
    case LZ_IMUL:
      return imulOverflow(s) ? 1 : 0;
    case LZ_INC:
    case LZ_DEC:
      return s[S_LZ_AUX] & FLAG_CF;
  }
  if (size === 8) {
    const rl = s[S_LZ_RES], rh = s[S_LZ_RES + 1], dl = s[S_LZ_DST], dh = s[S_LZ_DST + 1];
    const sl = s[S_LZ_SRC], sh = s[S_LZ_SRC + 1];
    switch (op) {
      case LZ_ADD: return ult64(rl, rh, dl, dh) ? 1 : 0;
      case LZ_ADC: return (s[S_LZ_AUX] ? !ult64(dl, dh, rl, rh) : ult64(rl, rh, dl, dh)) ? 1 : 0;
      case LZ_SUB: return ult64(dl, dh, sl, sh) ? 1 : 0;
      case LZ_SBB: return (s[S_LZ_AUX] ? !ult64(sl, sh, dl, dh) : ult64(dl, dh, sl, sh)) ? 1 : 0;
    }
    return 0;
  }
  const m = MASK[size];
  const r = s[S_LZ_RES] & m, d = s[S_LZ_DST] & m, src = s[S_LZ_SRC] & m;
  switch (op) {
    case LZ_ADD: return ult(r, d) ? 1 : 0;
    case LZ_ADC: return (s[S_LZ_AUX] ? !ult(d, r) : ult(r, d)) ? 1 : 0;
    case LZ_SUB: return ult(d, src) ? 1 : 0;
    case LZ_SBB: return (s[S_LZ_AUX] ? !ult(src, d) : ult(d, src)) ? 1 : 0;
  }
  return 0;
}

export function lazyZF(s: Int32Array): boolean {
  const op = s[S_LZ_OP];
  if (op === LZ_NONE) return (s[S_RFLAGS] & FLAG_ZF) !== 0;
  const size = s[S_LZ_SIZE];
  if (size === 8) return (s[S_LZ_RES] | s[S_LZ_RES + 1]) === 0;
  return (s[S_LZ_RES] & MASK[size]) === 0;
}

export function lazySF(s: Int32Array): boolean {
  const op = s[S_LZ_OP];
  if (op === LZ_NONE) return (s[S_RFLAGS] & FLAG_SF) !== 0;
  const size = s[S_LZ_SIZE];
  if (size === 8) return s[S_LZ_RES + 1] < 0;
  return (s[S_LZ_RES] & SIGN[size]) !== 0;
}

export function lazyOF(s: Int32Array): boolean {
  const op = s[S_LZ_OP];
  if (op === LZ_NONE) return (s[S_RFLAGS] & FLAG_OF) !== 0;
  if ((op & LZ_ROT) !== 0) return (s[S_LZ_AUX] & FLAG_OF) !== 0;
  if (op === LZ_LOGIC) return false;
  if (op === LZ_IMUL) return imulOverflow(s);
  const size = s[S_LZ_SIZE];
  let r: number, d: number, src: number, sign: number;
  if (size === 8) {
    r = s[S_LZ_RES + 1]; d = s[S_LZ_DST + 1]; src = s[S_LZ_SRC + 1]; sign = 0x80000000 | 0;
  } else {
    r = s[S_LZ_RES]; d = s[S_LZ_DST]; src = s[S_LZ_SRC]; sign = SIGN[size];
  }
  switch (op) {
    case LZ_ADD: case LZ_ADC: case LZ_INC:
      return ((d ^ r) & (src ^ r) & sign) !== 0;
    default: // SUB, SBB, DEC
      return ((d ^ src) & (d ^ r) & sign) !== 0;
  }
}

export function lazyPF(s: Int32Array): boolean {
  if (s[S_LZ_OP] === LZ_NONE) return (s[S_RFLAGS] & FLAG_PF) !== 0;
  return PARITY[s[S_LZ_RES] & 0xff] !== 0;
}

export function lazyAF(s: Int32Array): boolean {
  const op = s[S_LZ_OP];
  if (op === LZ_NONE) return (s[S_RFLAGS] & FLAG_AF) !== 0;
  const base = op & ~LZ_ROT;
  if (base === LZ_LOGIC || base === LZ_IMUL) return false;
  return ((s[S_LZ_DST] ^ s[S_LZ_SRC] ^ s[S_LZ_RES]) & 0x10) !== 0;
}

/** The full RFLAGS value (low 32 bits; the upper half is reserved zero). */
export function readFlags(s: Int32Array): number {
  if (s[S_LZ_OP] === LZ_NONE) return s[S_RFLAGS];
  let f = s[S_RFLAGS] & ~FLAGS_ARITH;
  if (lazyCF(s)) f |= FLAG_CF;
  if (lazyPF(s)) f |= FLAG_PF;
  if (lazyAF(s)) f |= FLAG_AF;
  if (lazyZF(s)) f |= FLAG_ZF;
  if (lazySF(s)) f |= FLAG_SF;
  if (lazyOF(s)) f |= FLAG_OF;
  return f;
}

/** Materialize the lazy flags into S_RFLAGS, so a handler can then modify individual bits. */
export function materializeFlags(s: Int32Array): number {
  const f = readFlags(s);
  s[S_RFLAGS] = f;
  s[S_LZ_OP] = LZ_NONE;
  return f;
}

/** Set CF and OF (cf 0/1, of 0/1), leaving SF, ZF, PF, AF as they are, without materialising them. */
export function setCfOf(s: Int32Array, cf: number, of: number): void {
  const op = s[S_LZ_OP];
  if (op === LZ_NONE) {
    s[S_RFLAGS] = (s[S_RFLAGS] & ~(FLAG_CF | FLAG_OF)) | cf | (of << 11);
  } else {
    s[S_LZ_OP] = op | LZ_ROT;
    s[S_LZ_AUX] = cf | (of << 11);
  }
}

/** Replace the arithmetic flags (eager form). Bits outside `mask` keep their value. */
export function setArithFlags(s: Int32Array, value: number, mask: number = FLAGS_ARITH): void {
  const f = materializeFlags(s);
  s[S_RFLAGS] = (f & ~mask) | (value & mask);
}

/**
 * B, Z, BE, L, LE after SUB/CMP (cc >> 1 = 1, 2, 3, 6, 7), straight from the recorded operands: CF is "dst < src"
 * unsigned, ZF "dst = src", SF != OF "dst < src" signed. Saves the separate lazyCF/ZF/SF/OF evaluations for the
 * most frequent Jcc/SETcc/CMOVcc (measured ~2% of a Linux boot in lazyCF alone).
 */
function subCondition(s: Int32Array, c: number): boolean {
  let lt: boolean, eq: boolean;
  if (s[S_LZ_SIZE] === 8) {
    const dh = s[S_LZ_DST + 1], sh = s[S_LZ_SRC + 1], dl = s[S_LZ_DST] >>> 0, sl = s[S_LZ_SRC] >>> 0;
    eq = dh === sh && dl === sl;
    if (dh === sh) lt = dl < sl;
    else lt = c === 6 || c === 7 ? dh < sh : dh >>> 0 < sh >>> 0;
  } else {
    // Move the operands' sign bit to bit 31 (the bits below are then zero): int32 compares give both orders.
    const k = 32 - 8 * s[S_LZ_SIZE];
    const d = s[S_LZ_DST] << k, src = s[S_LZ_SRC] << k;
    eq = d === src;
    lt = c === 6 || c === 7 ? d < src : d >>> 0 < src >>> 0;
  }
  return c === 2 ? eq : c === 1 || c === 6 ? lt : lt || eq;
}

/** Condition codes 0..15 as in Jcc/SETcc/CMOVcc (low nibble of the opcode). */
export function testCondition(s: Int32Array, cc: number): boolean {
  let r: boolean;
  const c = cc >> 1;
  if (s[S_LZ_OP] === LZ_SUB && c !== 0 && c !== 4 && c !== 5) {
    r = subCondition(s, c);
    return (cc & 1) === 0 ? r : !r;
  }
  switch (c) {
    case 0: r = lazyOF(s); break; // O
    case 1: r = lazyCF(s) !== 0; break; // B
    case 2: r = lazyZF(s); break; // Z
    case 3: r = lazyCF(s) !== 0 || lazyZF(s); break; // BE
    case 4: r = lazySF(s); break; // S
    case 5: r = lazyPF(s); break; // P
    case 6: r = lazySF(s) !== lazyOF(s); break; // L
    default: r = lazyZF(s) || lazySF(s) !== lazyOF(s); break; // LE
  }
  return (cc & 1) === 0 ? r : !r;
}
