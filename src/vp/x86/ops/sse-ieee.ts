// IEEE 754 lane arithmetic for the SSE groups, on bit patterns, with x86's rules (SDM vol. 1, 4.8 and 11.5):
// NaN operands never go through JS arithmetic (JS may canonicalise them); the result NaN is the first source's
// NaN quieted, else the second's; invalid operations give the default NaN (sign set: 0xFFC00000,
// 0xFFF8000000000000). Numeric results come from binary64 arithmetic, which is IEEE round-to-nearest-even; the
// exact error of each operation (TwoSum, Dekker's TwoProduct on operands scaled to [1, 2)) tells whether the
// result is inexact and on which side the exact value lies, which gives the precision flag and the directed
// rounding modes (the round-to-nearest result is moved one unit toward the exact value when MXCSR.RC asks).
// Single precision computes in binary64 and rounds once more with Math.fround: for + - * / sqrt of binary32
// operands binary64 has more than 2p+2 bits, so the double rounding is innocuous (Figueroa 1995).
// Tininess is detected after rounding, as x86 does; DAZ flushes denormal operands, FTZ tiny results.
import { fp, MX_DE, MX_IE, MX_OE, MX_PE, MX_UE, MX_ZE } from './sse-state.js';

const F64 = new Float64Array(1);
const F64I = new Int32Array(F64.buffer);
const F32 = new Float32Array(1);
const F32I = new Int32Array(F32.buffer);

export const OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3, OP_MIN = 4, OP_MAX = 5, OP_SQRT = 6;

export const QNAN32 = 0xffc00000 | 0;
export const QNAN64_HI = 0xfff80000 | 0;
const MAX32 = 3.4028234663852886e38;
const MIN_NORMAL32 = 1.1754943508222875e-38; // 2^-126
const MIN_NORMAL64 = 2.2250738585072014e-308; // 2^-1022
const MAX64 = Number.MAX_VALUE;
const TWO64 = 18446744073709551616;
const TWO128 = 3.402823669209385e38; // 2^128
const SPLIT = 134217729; // 2^27 + 1

export function f32(bits: number): number {
  F32I[0] = bits;
  return F32[0];
}

export function bits32(x: number): number {
  F32[0] = x;
  return F32I[0];
}

export function f64(lo: number, hi: number): number {
  F64I[0] = lo; F64I[1] = hi;
  return F64[0];
}

/** Bits of a (non-NaN) double: returns the low half, high half in fp.hi. */
export function bits64(x: number): number {
  F64[0] = x;
  fp.hi = F64I[1];
  return F64I[0];
}

export function isNaN32(b: number): boolean {
  return (b & 0x7fffffff) > 0x7f800000;
}

export function isSNaN32(b: number): boolean {
  return (b & 0x7fffffff) > 0x7f800000 && (b & 0x400000) === 0;
}

export function isNaN64(lo: number, hi: number): boolean {
  const h = hi & 0x7fffffff;
  return h > 0x7ff00000 || (h === 0x7ff00000 && lo !== 0);
}

export function isSNaN64(lo: number, hi: number): boolean {
  return isNaN64(lo, hi) && (hi & 0x80000) === 0;
}

/** Operand value of single lane bits (not NaN): denormals raise DE, or become zero under DAZ. */
export function inS(b: number): number {
  if ((b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0) {
    if (fp.daz) return b < 0 ? -0 : 0;
    fp.exc |= MX_DE;
  }
  return f32(b);
}

/** Operand value of double lane bits (not NaN). */
export function inD(lo: number, hi: number): number {
  if ((hi & 0x7ff00000) === 0 && ((hi & 0xfffff) | lo) !== 0) {
    if (fp.daz) return hi < 0 ? -0 : 0;
    fp.exc |= MX_DE;
  }
  return f64(lo, hi);
}

/** Exact error of s = a + b (TwoSum, Knuth): (a + b) - s. */
export function twoSumErr(a: number, b: number, s: number): number {
  const bb = s - a;
  return (a - (s - bb)) + (b - bb);
}

/** Exact error of p = a * b (Dekker): a * b - p. Needs |a|, |b| < 2^996 and no underflow of the partial products. */
function twoProdErr(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/** Unbiased binary exponent of a finite nonzero double (denormals normalised). */
function expOf(x: number): number {
  F64[0] = x;
  const e = (F64I[1] >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  F64[0] = x * TWO64;
  return ((F64I[1] >>> 20) & 0x7ff) - 1023 - 64;
}

/** x * 2^k, exactly when the result is representable (k may exceed the exponent range of one factor). */
function scale(x: number, k: number): number {
  while (k > 1000) { x *= 2 ** 1000; k -= 1000; }
  while (k < -1000) { x *= 2 ** -1000; k += 1000; }
  return x * 2 ** k;
}

/** Move single bits one unit toward the exact value as the directed rounding mode asks (err = sign(exact - r)). */
function directed32(b: number, err: number): number {
  const rc = fp.rc, neg = b < 0;
  let dir = 0;
  if (rc === 1) { if (err < 0) dir = -1; }
  else if (rc === 2) { if (err > 0) dir = 1; }
  else if (!neg && err < 0) dir = -1;
  else if (neg && err > 0) dir = 1;
  if (dir === 0) return b;
  if ((b & 0x7fffffff) === 0) return dir > 0 ? 1 : 0x80000001 | 0;
  return (dir > 0) !== neg ? b + 1 : b - 1;
}

/** The same for double bits (lo, fp.hi): returns the low half, the high half in fp.hi. */
function directed64(lo: number, hi: number, err: number): number {
  const rc = fp.rc, neg = hi < 0;
  let dir = 0;
  if (rc === 1) { if (err < 0) dir = -1; }
  else if (rc === 2) { if (err > 0) dir = 1; }
  else if (!neg && err < 0) dir = -1;
  else if (neg && err > 0) dir = 1;
  fp.hi = hi;
  if (dir === 0) return lo;
  if (((hi & 0x7fffffff) | lo) === 0) { fp.hi = dir > 0 ? 0 : 0x80000000 | 0; return 1; }
  if ((dir > 0) !== neg) {
    const nl = (lo + 1) | 0;
    if (nl === 0) fp.hi = (hi + 1) | 0;
    return nl;
  }
  if (lo === 0) fp.hi = (hi - 1) | 0;
  return (lo - 1) | 0;
}

/** Is d (exact result approximated as d, sign(exact - d) = e) below 2^-126 once rounded to 24 bits, unbounded? */
function tinyS(d: number, e: number): boolean {
  const ds = d * TWO64; // exact scaling into the normal range
  let u = Math.fround(ds);
  if (fp.rc !== 0) {
    const eu = ds > u ? 1 : ds < u ? -1 : sign(e);
    if (eu !== 0) u = f32(directed32(bits32(u), eu));
  }
  return Math.abs(u) < MIN_NORMAL32 * TWO64;
}

/** A binary64 value moved one unit toward the exact value when the rounding mode is directed. */
function adjustD(x: number, err: number): number {
  if (fp.rc === 0 || err === 0) return x;
  const lo = bits64(x);
  const l = directed64(lo, fp.hi, err);
  return f64(l, fp.hi);
}

/** Zero sum sign: exact zero sums are +0 except when rounding down (-0), unless both operands are +0. */
function zeroSum(x: number, y: number, r: number): number {
  if (r !== 0 || fp.rc !== 1) return r;
  return x === 0 && y === 0 && 1 / x > 0 && 1 / y > 0 ? 0 : -0;
}

/**
 * Round a binary64 value d to single precision under MXCSR, raising the flags. `e` is the sign of (exact - d), 0
 * when d is the exact result. d must be finite.
 */
export function finishS(d: number, e: number): number {
  const r = Math.fround(d);
  const err = d > r ? 1 : d < r ? -1 : sign(e);
  let b = bits32(r);
  const ad = Math.abs(d);
  if (ad < MIN_NORMAL32 && ad !== 0 && tinyS(d, e)) {
    // Tiny (after rounding to 24 bits with an unbounded exponent, in the current rounding mode).
    if (!fp.um) fp.exc |= MX_UE;
    else if (fp.ftz) { fp.exc |= MX_UE | MX_PE; return d < 0 ? 0x80000000 | 0 : 0; }
    else if (err !== 0) fp.exc |= MX_UE;
  }
  if (err === 0) return b;
  fp.exc |= MX_PE;
  const rc = fp.rc;
  if (rc !== 0) b = directed32(b, err);
  if (ad > MAX32 || (ad === MAX32 && err * sign(d) > 0)) {
    // The exact result is beyond the largest finite value: overflow when the rounding mode takes it there (to
    // nearest: past max + ulp/2; away from zero: any excess; toward zero: 2^128 or more).
    const away = (rc === 2 && d > 0) || (rc === 1 && d < 0);
    if (rc === 0 ? !Number.isFinite(r) : away || ad >= TWO128) fp.exc |= MX_OE;
  }
  return b;
}

/**
 * Finish a binary64 result r (the round-to-nearest value of the exact result) under MXCSR: `err` = sign(exact -
 * r), `tiny` = the exact result rounded to 53 bits with an unbounded exponent is below 2^-1022, `big` = the exact
 * result is at least 2^1024 in magnitude. Returns the low half, high half in fp.hi.
 */
function finishD(r: number, err: number, tiny: boolean, big: boolean): number {
  let lo = bits64(r);
  let hi = fp.hi;
  if (tiny) {
    if (!fp.um) fp.exc |= MX_UE;
    else if (fp.ftz) { fp.exc |= MX_UE | MX_PE; fp.hi = hi & (0x80000000 | 0); return 0; }
    else if (err !== 0) fp.exc |= MX_UE;
  }
  if (err === 0) return lo;
  fp.exc |= MX_PE;
  const rc = fp.rc;
  const rInf = r === Infinity || r === -Infinity;
  if (rInf || Math.abs(r) === MAX64) {
    const away = rc === 0 || (rc === 2 && r > 0) || (rc === 1 && r < 0);
    const gtMax = rInf || err * sign(r) > 0;
    if (rc === 0 ? rInf : away ? gtMax : big) fp.exc |= MX_OE;
  }
  if (rc !== 0) { lo = directed64(lo, hi, err); hi = fp.hi; }
  fp.hi = hi;
  return lo;
}

// ---------------------------------------------------------------- single precision

/** dst op src on single lanes (bits in, bits out). For SQRT only b is used. */
export function arithS(op: number, a: number, b: number): number {
  if (op === OP_SQRT) {
    if (isNaN32(b)) { if ((b & 0x400000) === 0) fp.exc |= MX_IE; return b | 0x400000; }
    // A negative operand is invalid before it counts as denormal (unless DAZ makes it -0).
    if (b < 0 && (b & 0x7fffffff) !== 0 && !(fp.daz && (b & 0x7f800000) === 0)) { fp.exc |= MX_IE; return QNAN32; }
    const y = inS(b);
    if (y < 0) { fp.exc |= MX_IE; return QNAN32; }
    if (y === 0 || y === Infinity) return bits32(y);
    const d = Math.sqrt(y);
    const p = d * d;
    return finishS(d, (y - p) - twoProdErr(d, d, p));
  }
  const an = isNaN32(a), bn = isNaN32(b);
  if (op >= OP_MIN) {
    // MIN/MAX: any NaN (quiet too) is invalid and returns the second operand unchanged; so do equal values.
    if (an || bn) {
      fp.exc |= MX_IE;
      return fp.daz && (b & 0x7f800000) === 0 ? b & (0x80000000 | 0) : b; // a denormal second operand is flushed
    }
    const x = inS(a), y = inS(b);
    return bits32(op === OP_MIN ? (x < y ? x : y) : (x > y ? x : y));
  }
  if (an || bn) {
    if (isSNaN32(a) || isSNaN32(b)) fp.exc |= MX_IE;
    return an ? a | 0x400000 : b | 0x400000;
  }
  if (op === OP_DIV && (b & 0x7fffffff) === 0) {
    // Division by a true zero: a denormal dividend does not count as a denormal operand.
    if ((a & 0x7fffffff) === 0 || (fp.daz && (a & 0x7f800000) === 0)) { fp.exc |= MX_IE; return QNAN32; }
    if ((a & 0x7fffffff) !== 0x7f800000) fp.exc |= MX_ZE;
    return ((a ^ b) & (0x80000000 | 0)) | 0x7f800000;
  }
  const x = inS(a), y = inS(b);
  let d: number, e = 0;
  switch (op) {
    case OP_ADD: d = zeroSum(x, y, x + y); e = twoSumErr(x, y, d); break;
    case OP_SUB: d = zeroSum(x, -y, x - y); e = twoSumErr(x, -y, d); break;
    case OP_MUL: d = x * y; break; // 24 x 24 bits: exact in binary64
    default: {
      if (y === 0) {
        if (x === 0) { fp.exc |= MX_IE; return QNAN32; }
        if (x === x && Math.abs(x) !== Infinity) fp.exc |= MX_ZE;
        return bits32(x / y);
      }
      d = x / y;
      if (Number.isFinite(d) && d !== 0 && Number.isFinite(x)) {
        const p = d * y;
        e = ((x - p) - twoProdErr(d, y, p)) * y;
      }
      break;
    }
  }
  if (d !== d) { fp.exc |= MX_IE; return QNAN32; }
  if (!Number.isFinite(d)) return bits32(d);
  return finishS(d, e);
}

// ---------------------------------------------------------------- double precision

/** dst op src on double lanes: returns the low half of the result, high half in fp.hi. For SQRT only b is used. */
export function arithD(op: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (op === OP_SQRT) {
    if (isNaN64(bLo, bHi)) { if ((bHi & 0x80000) === 0) fp.exc |= MX_IE; fp.hi = bHi | 0x80000; return bLo; }
    if (bHi < 0 && ((bHi & 0x7fffffff) | bLo) !== 0 && !(fp.daz && (bHi & 0x7ff00000) === 0)) {
      fp.exc |= MX_IE; fp.hi = QNAN64_HI; return 0;
    }
    const y = inD(bLo, bHi);
    if (y < 0) { fp.exc |= MX_IE; fp.hi = QNAN64_HI; return 0; }
    if (y === 0 || y === Infinity) return bits64(y);
    const k = expOf(y) & ~1;
    const ys = scale(y, -k);
    const rs = Math.sqrt(ys);
    const p = rs * rs;
    return finishD(Math.sqrt(y), sign((ys - p) - twoProdErr(rs, rs, p)), false, false);
  }
  const an = isNaN64(aLo, aHi), bn = isNaN64(bLo, bHi);
  if (op >= OP_MIN) {
    if (an || bn) {
      fp.exc |= MX_IE;
      if (fp.daz && (bHi & 0x7ff00000) === 0) { fp.hi = bHi & (0x80000000 | 0); return 0; }
      fp.hi = bHi;
      return bLo;
    }
    const x = inD(aLo, aHi), y = inD(bLo, bHi);
    return bits64(op === OP_MIN ? (x < y ? x : y) : (x > y ? x : y));
  }
  if (an || bn) {
    if (isSNaN64(aLo, aHi) || isSNaN64(bLo, bHi)) fp.exc |= MX_IE;
    if (an) { fp.hi = aHi | 0x80000; return aLo; }
    fp.hi = bHi | 0x80000;
    return bLo;
  }
  if (op === OP_DIV && ((bHi & 0x7fffffff) | bLo) === 0) {
    if (((aHi & 0x7fffffff) | aLo) === 0 || (fp.daz && (aHi & 0x7ff00000) === 0)) { fp.exc |= MX_IE; fp.hi = QNAN64_HI; return 0; }
    if ((aHi & 0x7fffffff) !== 0x7ff00000 || aLo !== 0) fp.exc |= MX_ZE;
    fp.hi = ((aHi ^ bHi) & (0x80000000 | 0)) | 0x7ff00000;
    return 0;
  }
  const x = inD(aLo, aHi), y = inD(bLo, bHi);
  switch (op) {
    case OP_ADD:
    case OP_SUB: {
      const yy = op === OP_ADD ? y : -y;
      const r = zeroSum(x, yy, x + yy);
      if (r !== r) { fp.exc |= MX_IE; fp.hi = QNAN64_HI; return 0; }
      if (!Number.isFinite(x) || !Number.isFinite(y)) return bits64(r);
      if (!Number.isFinite(r)) return finishD(r, -sign(r), false, Math.abs(x / 2 + yy / 2) >= 2 ** 1023);
      // Tiny sums are exact, so only FTZ can change them.
      return finishD(r, sign(twoSumErr(x, yy, r)), r !== 0 && Math.abs(r) < MIN_NORMAL64, false);
    }
    case OP_MUL: {
      const r = x * y;
      if (r !== r) { fp.exc |= MX_IE; fp.hi = QNAN64_HI; return 0; }
      if (x === 0 || y === 0 || !Number.isFinite(x) || !Number.isFinite(y)) return bits64(r);
      const ex = expOf(x), ey = expOf(y);
      const xs = scale(x, -ex), ys = scale(y, -ey);
      const ps = xs * ys;
      const pe = twoProdErr(xs, ys, ps);
      const k = ex + ey + (Math.abs(adjustD(ps, sign(pe))) >= 2 ? 1 : 0);
      return finishD(r, errOf(r, ps, sign(pe), ex + ey), k < -1022, k >= 1024);
    }
    default: {
      if (y === 0) {
        if (x === 0) { fp.exc |= MX_IE; fp.hi = QNAN64_HI; return 0; }
        if (Number.isFinite(x)) fp.exc |= MX_ZE;
        return bits64(x / y);
      }
      const r = x / y;
      if (r !== r) { fp.exc |= MX_IE; fp.hi = QNAN64_HI; return 0; }
      if (x === 0 || !Number.isFinite(x) || !Number.isFinite(y)) return bits64(r);
      const ex = expOf(x), ey = expOf(y);
      const xs = scale(x, -ex), ys = scale(y, -ey);
      const qs = xs / ys;
      const p = qs * ys;
      const rem = ((xs - p) - twoProdErr(qs, ys, p)) * ys;
      const k = ex - ey + (Math.abs(adjustD(qs, sign(rem))) >= 1 ? 0 : -1);
      return finishD(r, errOf(r, qs, sign(rem), ex - ey), k < -1022, k >= 1024);
    }
  }
}

/**
 * sign(exact - r) for a product/quotient whose exact value is (vs + tiny error of sign es) * 2^k, vs being the
 * binary64 result of the scaled operation and r the binary64 result of the real one.
 */
function errOf(r: number, vs: number, es: number, k: number): number {
  if (!Number.isFinite(r)) return -sign(r);
  if (Math.abs(r) > MIN_NORMAL64) return es; // r = vs * 2^k exactly (at 2^-1022 r may come from the subnormal grid)
  const diff = vs - scale(r, -k); // exact (Sterbenz, or r = 0)
  return diff !== 0 ? sign(diff) : es;
}

// ---------------------------------------------------------------- conversions

/** Round a finite double to an integer under MXCSR.RC (or toward zero when `trunc`). */
export function roundInt(x: number, trunc: boolean): number {
  const rc = trunc ? 3 : fp.rc;
  switch (rc) {
    case 0: {
      const f = Math.floor(x);
      const d = x - f;
      if (d > 0.5) return f + 1;
      if (d < 0.5) return f;
      return f % 2 === 0 ? f : f + 1;
    }
    case 1: return Math.floor(x);
    case 2: return Math.ceil(x);
    default: return Math.trunc(x);
  }
}

/**
 * Convert a single or double value (as a JS number; NaN allowed) to a signed integer of 32 or 64 bits: returns
 * the low half, high half in fp.hi. Out of range or NaN gives the integer indefinite (0x80000000[00000000]) and
 * IE; an inexact conversion sets PE.
 */
export function toInt(x: number, bits64out: boolean, trunc: boolean): number {
  if (x !== x) { fp.exc |= MX_IE; fp.hi = 0x80000000 | 0; return bits64out ? 0 : 0x80000000 | 0; }
  const r = roundInt(x, trunc);
  const lim = bits64out ? 9223372036854775808 : 2147483648;
  if (r >= lim || r < -lim) { fp.exc |= MX_IE; fp.hi = 0x80000000 | 0; return bits64out ? 0 : 0x80000000 | 0; }
  if (r !== x) fp.exc |= MX_PE;
  const hi = Math.floor(r / 4294967296);
  fp.hi = hi | 0;
  return (r - hi * 4294967296) | 0;
}

/**
 * Signed 64-bit integer (lo, hi) to single (`single`) or double bits, rounded under MXCSR with PE. Double bits
 * come back as low half + fp.hi.
 */
export function fromInt64(lo: number, hi: number, single: boolean): number {
  const a = hi * 4294967296, b = lo >>> 0;
  let d = a + b;
  const e = twoSumErr(a, b, d);
  if (!single) {
    if (e === 0) return bits64(d);
    return finishD(d, sign(e), false, false);
  }
  if (e !== 0) {
    // Round to odd at 53 bits first so the second rounding to 24 bits is correct.
    const l = bits64(d);
    if ((l & 1) === 0) d = f64(directedOdd(l, fp.hi, e), fp.hi);
  }
  return finishS(d, e);
}

/** Step double bits one unit in the direction of e (used for round-to-odd). Returns lo, hi in fp.hi. */
function directedOdd(lo: number, hi: number, e: number): number {
  const away = (e > 0) !== (hi < 0);
  fp.hi = hi;
  if (away) { const nl = (lo + 1) | 0; if (nl === 0) fp.hi = (hi + 1) | 0; return nl; }
  if (lo === 0) fp.hi = (hi - 1) | 0;
  return (lo - 1) | 0;
}

/** Double bits to single bits (CVTSD2SS / CVTPD2PS). */
export function d2s(lo: number, hi: number): number {
  if (isNaN64(lo, hi)) {
    if ((hi & 0x80000) === 0) fp.exc |= MX_IE;
    return (hi & (0x80000000 | 0)) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
  }
  const x = inD(lo, hi);
  if (x === 0 || !Number.isFinite(x)) return bits32(x);
  return finishS(x, 0);
}

/** Single bits to double bits (CVTSS2SD / CVTPS2PD): exact; returns lo, hi in fp.hi. */
export function s2d(b: number): number {
  if (isNaN32(b)) {
    if ((b & 0x400000) === 0) fp.exc |= MX_IE;
    fp.hi = (b & (0x80000000 | 0)) | 0x7ff80000 | ((b & 0x3fffff) >>> 3);
    return (b & 7) << 29;
  }
  return bits64(inS(b));
}

/** Approximate reciprocal / reciprocal square root of a single lane (RCPPS/RSQRTPS): no flags, DAZ-like on input. */
export function approxS(b: number, rsqrt: boolean): number {
  if (isNaN32(b)) return b | 0x400000;
  // Denormal inputs count as zero, and results too small for a normal single are flushed (SDM: RCPPS/RSQRTPS).
  let x = (b & 0x7f800000) === 0 ? (b < 0 ? -0 : 0) : f32(b);
  if (rsqrt) {
    if (x < 0) return QNAN32;
    x = 1 / Math.sqrt(x);
  } else {
    x = 1 / x;
  }
  const r = Math.fround(x);
  if (r !== 0 && Math.abs(r) < MIN_NORMAL32) return r < 0 ? 0x80000000 | 0 : 0;
  return bits32(r);
}

export { MX_OE };
