// Exact 80-bit extended-precision arithmetic for the x87 FPU, in int32 pieces (no floats on the exact paths).
//
// A register value travels as three int32s (lo, hi, se): the 64-bit significand with its explicit integer bit
// (hi bit 31) and sign<<15 | biased exponent (bias 16383). Operations read raw operands, write the raw result
// to `R` and accumulate exception flags in `fx.exc` (FSW bit layout: IE DE ZE OE UE PE, plus SF) and the
// "rounded up" indication in `fx.up` (it becomes FSW.C1). Rounding honours the FCW precision (24/53/64 bits,
// exponent range stays 15-bit) and rounding-control fields; tininess is detected before rounding (as the x87
// does); masked responses follow the SDM (QNaN indefinite, infinities or the largest finite value on overflow,
// denormalised results on underflow); unmasked overflow/underflow to a register rebias the exponent by 24576.
//
// Internally a finite value is unpacked to sign, unbiased exponent e of the leading bit, and a normalised
// significand; intermediate results live in a 128-bit work register W = (w3, w2, w1, w0) whose bit 127 is the
// leading bit (value = W / 2^127 * 2^e); bits shifted out are ORed into w0 bit 0 (sticky), which keeps
// rounding exact. Only FSQRT and FBLD/FBSTP use BigInt (rare instructions).

export const EX_IE = 0x01;
export const EX_DE = 0x02;
export const EX_ZE = 0x04;
export const EX_OE = 0x08;
export const EX_UE = 0x10;
export const EX_PE = 0x20;
export const EX_SF = 0x40;

/** Rounding control values (FCW bits 10..11). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/**
 * Flags produced by the last operations (callers reset them per instruction): exceptions, C1 (rounded up), and
 * `den`, set by the caller when a memory operand converted to B was a denormal in its own format (so the
 * operation raises DE with the priority it has for register denormals: after invalid operands and NaNs).
 */
export const fx = { exc: 0, up: 0, den: 0 };

/** Result of the last operation: lo, hi, se. */
export const R = new Int32Array(3);

/** Operand classes. */
export const CL_ZERO = 0;
export const CL_FINITE = 1; // normal or denormal (then normalised)
export const CL_INF = 2;
export const CL_QNAN = 3;
export const CL_SNAN = 4;
export const CL_BAD = 5; // unsupported encoding: unnormal, pseudo-NaN, pseudo-infinity

// ---------------------------------------------------------------- unpacked operands

let aCl = 0, aS = 0, aE = 0, aH = 0, aL = 0, aDen = false;
let bCl = 0, bS = 0, bE = 0, bH = 0, bL = 0, bDen = false;

/** Classify raw (lo, hi, se) into the A (which = 0) or B (which = 1) slot. */
function unpack(which: number, lo: number, hi: number, se: number): void {
  const sign = (se >> 15) & 1;
  const E = se & 0x7fff;
  let cl: number, e = 0, h = hi >>> 0, l = lo >>> 0, den = false;
  if (E === 0) {
    if (h === 0 && l === 0) cl = CL_ZERO;
    else {
      cl = CL_FINITE;
      den = true;
      // denormal or pseudo-denormal: value = sig * 2^(1 - 16383 - 63)
      let sh = 0;
      if (h === 0) { h = l; l = 0; sh = 32; }
      const z = Math.clz32(h);
      if (z !== 0) { h = ((h << z) | (l >>> (32 - z))) >>> 0; l = (l << z) >>> 0; sh += z; }
      e = -16382 - sh;
    }
  } else if (E === 0x7fff) {
    if ((h & 0x80000000) === 0) cl = CL_BAD;
    else if ((h & 0x7fffffff) === 0 && l === 0) cl = CL_INF;
    else cl = (h & 0x40000000) !== 0 ? CL_QNAN : CL_SNAN;
  } else {
    if ((h & 0x80000000) === 0) cl = CL_BAD;
    else { cl = CL_FINITE; e = E - 16383; }
  }
  if (which === 0) { aCl = cl; aS = sign; aE = e; aH = h; aL = l; aDen = den; }
  else { bCl = cl; bS = sign; bE = e; bH = h; bL = l; bDen = den; }
}

/** Class of a raw value (for FXAM and callers that only need the class). */
export function classify(lo: number, hi: number, se: number): number {
  unpack(0, lo, hi, se);
  return aCl;
}

/** Raise DE for denormal operands; true when DE is unmasked (the operation must then stop: no result). */
function den(fcw: number): boolean {
  if (aDen || bDen || fx.den !== 0) {
    fx.exc |= EX_DE;
    return (fcw & EX_DE) === 0;
  }
  return false;
}

/** DE for a one-operand operation (A only). */
function den1(fcw: number): boolean {
  if (aDen) {
    fx.exc |= EX_DE;
    return (fcw & EX_DE) === 0;
  }
  return false;
}

// ---------------------------------------------------------------- results

export function setIndefinite(): void {
  R[0] = 0; R[1] = 0xc0000000 | 0; R[2] = 0xffff;
}

function setZero(sign: number): void {
  R[0] = 0; R[1] = 0; R[2] = sign << 15;
}

function setInf(sign: number): void {
  R[0] = 0; R[1] = 0x80000000 | 0; R[2] = (sign << 15) | 0x7fff;
}

function setRaw(lo: number, hi: number, se: number): void {
  R[0] = lo; R[1] = hi; R[2] = se;
}

/** One NaN operand (raw): the result is it, quieted; an SNaN raises IE. */
function nan1(lo: number, hi: number, se: number): void {
  if ((hi & 0x40000000) === 0) fx.exc |= EX_IE;
  setRaw(lo, hi | 0x40000000, se & 0xffff);
}

/**
 * Two operands of which at least one is a NaN (raw values; a and b classes in the A/B slots): an SNaN raises IE;
 * SNaN with QNaN gives the QNaN; two of the same kind give the larger significand (equal: the positive one).
 */
function nan2(al: number, ah: number, ase: number, bl: number, bh: number, bse: number): void {
  const aNan = aCl === CL_QNAN || aCl === CL_SNAN, bNan = bCl === CL_QNAN || bCl === CL_SNAN;
  if (aCl === CL_SNAN || bCl === CL_SNAN) fx.exc |= EX_IE;
  if (!bNan) { setRaw(al, ah | 0x40000000, ase & 0xffff); return; }
  if (!aNan) { setRaw(bl, bh | 0x40000000, bse & 0xffff); return; }
  if (aCl !== bCl) {
    if (aCl === CL_QNAN) setRaw(al, ah, ase & 0xffff); else setRaw(bl, bh, bse & 0xffff);
    return;
  }
  let pickA: boolean;
  const ahu = (ah & 0x7fffffff) >>> 0, bhu = (bh & 0x7fffffff) >>> 0;
  if (ahu !== bhu) pickA = ahu > bhu;
  else if ((al >>> 0) !== (bl >>> 0)) pickA = (al >>> 0) > (bl >>> 0);
  else pickA = (ase & 0xffff) <= (bse & 0xffff);
  if (pickA) setRaw(al, ah | 0x40000000, ase & 0xffff); else setRaw(bl, bh | 0x40000000, bse & 0xffff);
}

// ---------------------------------------------------------------- the 128-bit work register

let w3 = 0, w2 = 0, w1 = 0, w0 = 0;

/** Shift W right by n, ORing the bits shifted out into bit 0. */
function shrW(n: number): void {
  if (n <= 0) return;
  if (n >= 128) {
    const nz = (w3 | w2 | w1 | w0) !== 0;
    w3 = 0; w2 = 0; w1 = 0; w0 = nz ? 1 : 0;
    return;
  }
  let sticky = 0;
  while (n >= 32) { sticky |= w0; w0 = w1; w1 = w2; w2 = w3; w3 = 0; n -= 32; }
  if (n > 0) {
    const m = 32 - n;
    sticky |= w0 << m;
    w0 = ((w0 >>> n) | (w1 << m)) >>> 0;
    w1 = ((w1 >>> n) | (w2 << m)) >>> 0;
    w2 = ((w2 >>> n) | (w3 << m)) >>> 0;
    w3 = w3 >>> n;
  }
  if (sticky !== 0) w0 = (w0 | 1) >>> 0;
}

/** Shift W left until bit 127 is set (W must be nonzero); returns the shift. */
function normW(): number {
  let sh = 0;
  while (w3 === 0) { w3 = w2; w2 = w1; w1 = w0; w0 = 0; sh += 32; }
  const z = Math.clz32(w3);
  if (z !== 0) {
    const m = 32 - z;
    w3 = ((w3 << z) | (w2 >>> m)) >>> 0;
    w2 = ((w2 << z) | (w1 >>> m)) >>> 0;
    w1 = ((w1 << z) | (w0 >>> m)) >>> 0;
    w0 = (w0 << z) >>> 0;
    sh += z;
  }
  return sh;
}

// ---------------------------------------------------------------- rounding and packing

/** Formats for roundPack: bias, maximum biased exponent. */
export const FMT80 = 0;
export const FMT64 = 1;
export const FMT32 = 2;
const BIAS = [16383, 1023, 127];
const EMAX = [0x7fff, 0x7ff, 0xff];

/** Precision in bits from FCW.PC (00 = 24, 10 = 53, 11 = 64; the reserved 01 behaves as 64). */
export function precisionOf(fcw: number): number {
  const pc = (fcw >> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

/** Packed output of roundPack: biased exponent and 64-bit significand (bit 63 = integer bit). */
let oE = 0, oH = 0, oL = 0;

/**
 * Round W (normalised, value = W/2^127 * 2^e) to `p` significant bits in format `fmt` with rounding `rc`.
 * `masks` are the FCW exception mask bits; `reg` selects the register response to unmasked overflow/underflow
 * (rebias by 24576) — for memory destinations an unmasked overflow/underflow stores nothing: returns false.
 * Leaves oE/oH/oL set and raises OE/UE/PE, fx.up.
 */
function roundPack(sign: number, e: number, p: number, fmt: number, rc: number, masks: number, reg: boolean): boolean {
  const bias = BIAS[fmt], emax = EMAX[fmt];
  let E = e + bias;
  let tiny = false;
  const ueMasked = (masks & EX_UE) !== 0, oeMasked = (masks & EX_OE) !== 0;
  if (E <= 0) {
    tiny = true;
    if (!ueMasked) {
      fx.exc |= EX_UE;
      if (!reg) return false;
      if (E + 24576 <= 0) {
        // even the rebiased exponent is out of range: a signed zero (whatever the rounding mode)
        fx.exc |= EX_PE; fx.up = 0;
        oE = 0; oH = 0; oL = 0;
        return true;
      }
      E += 24576;
      tiny = false;
    } else {
      shrW(1 - E);
      E = 0;
    }
  }
  // Discarded bits below the last kept one: dw is the word holding the round bit, half the round bit's value.
  let dw: number, half: number, rest: boolean, lsb: number;
  let hi = w3, lo = w2;
  if (p === 64) { dw = w1; half = 0x80000000; rest = w0 !== 0; lsb = lo & 1; }
  else if (p === 53) { dw = lo & 0x7ff; half = 0x400; rest = (w1 | w0) !== 0; lsb = (lo >>> 11) & 1; lo = (lo & ~0x7ff) >>> 0; }
  else { dw = hi & 0xff; half = 0x80; rest = (lo | w1 | w0) !== 0; lsb = (hi >>> 8) & 1; hi = (hi & ~0xff) >>> 0; lo = 0; }
  dw >>>= 0;
  const inexact = dw !== 0 || rest;
  let inc = false;
  if (inexact) {
    switch (rc) {
      case RC_NEAREST: inc = dw > half || (dw === half && (rest || lsb === 1)); break;
      case RC_DOWN: inc = sign === 1; break;
      case RC_UP: inc = sign === 0; break;
      default: inc = false; break;
    }
  }
  if (inc) {
    const ulp = p === 64 ? 1 : p === 53 ? 0x800 : 0;
    if (p === 24) {
      hi += 0x100;
      if (hi > 0xffffffff) { hi = 0x80000000; E++; }
    } else {
      lo += ulp;
      if (lo > 0xffffffff) {
        lo -= 0x100000000;
        hi += 1;
        if (hi > 0xffffffff) { hi = 0x80000000; E++; }
      }
    }
    if (E === 0 && hi >= 0x80000000) E = 1; // a denormal rounded up into the normal range
  }
  if (inexact) { fx.exc |= EX_PE; fx.up = inc ? 1 : 0; }
  if (tiny && (inexact || !ueMasked)) fx.exc |= EX_UE;
  if (E >= emax) {
    if (!oeMasked && reg && E - 24576 >= emax) {
      // even the rebiased exponent is out of range: an infinity (whatever the rounding mode)
      fx.exc |= EX_OE | EX_PE; fx.up = 1;
      E = emax; hi = 0x80000000; lo = 0;
    } else if (!oeMasked) {
      fx.exc |= EX_OE;
      if (!reg) { fx.exc &= ~EX_PE; fx.up = 0; return false; } // memory: nothing stored, no precision report
      E -= 24576;
    } else {
      fx.exc |= EX_OE | EX_PE;
      const toInf = rc === RC_NEAREST || (rc === RC_UP && sign === 0) || (rc === RC_DOWN && sign === 1);
      if (toInf) { E = emax; hi = 0x80000000; lo = 0; fx.up = 1; }
      else {
        E = emax - 1;
        hi = p === 24 ? 0xffffff00 : 0xffffffff;
        lo = p === 64 ? 0xffffffff : p === 53 ? 0xfffff800 : 0;
        fx.up = 0;
      }
    }
  }
  oE = E; oH = hi >>> 0; oL = lo >>> 0;
  return true;
}

/** Round W to a register result in R per the FCW. */
function packReg(sign: number, e: number, fcw: number): void {
  roundPack(sign, e, precisionOf(fcw), FMT80, (fcw >> 10) & 3, fcw & 0x3f, true);
  R[0] = oL; R[1] = oH; R[2] = (sign << 15) | oE;
}

/** Round W to a register result with full 64-bit precision (operations the PC field does not affect). */
function packReg64(sign: number, e: number, fcw: number): void {
  roundPack(sign, e, 64, FMT80, (fcw >> 10) & 3, fcw & 0x3f, true);
  R[0] = oL; R[1] = oH; R[2] = (sign << 15) | oE;
}

// ---------------------------------------------------------------- loads

/** FLD m32fp: exact conversion; SNaN raises IE (quieted), denormals raise DE. */
export function loadF32(v: number): void {
  const sign = v >>> 31, E = (v >>> 23) & 0xff, f = v & 0x7fffff;
  if (E === 0xff) {
    if (f === 0) { setInf(sign); return; }
    if ((f & 0x400000) === 0) fx.exc |= EX_IE;
    setRaw(0, (0xc0000000 | (f << 8)) | 0, (sign << 15) | 0x7fff);
    return;
  }
  if (E === 0) {
    if (f === 0) { setZero(sign); return; }
    fx.exc |= EX_DE;
    const z = Math.clz32(f); // f < 2^23 so z >= 9
    setRaw(0, f << z, (sign << 15) | (16383 - 126 - (z - 8)));
    return;
  }
  setRaw(0, (0x80000000 | (f << 8)) | 0, (sign << 15) | (E - 127 + 16383));
}

/** FLD m64fp. */
export function loadF64(lo: number, hi: number): void {
  const sign = hi >>> 31, E = (hi >>> 20) & 0x7ff;
  const fh = hi & 0xfffff;
  if (E === 0x7ff) {
    if (fh === 0 && lo === 0) { setInf(sign); return; }
    if ((fh & 0x80000) === 0) fx.exc |= EX_IE;
    setRaw(lo << 11, (0xc0000000 | (fh << 11) | (lo >>> 21)) | 0, (sign << 15) | 0x7fff);
    return;
  }
  if (E === 0) {
    if (fh === 0 && lo === 0) { setZero(sign); return; }
    fx.exc |= EX_DE;
    w3 = fh; w2 = lo >>> 0; w1 = 0; w0 = 0;
    const sh = normW(); // leading bit at 127; the fraction's bit 51 was at bit 83+... compute from the shift
    // value = frac * 2^-1074; frac's bit k sits at W bit k+64 before normalising.
    const e = (127 - sh) - 64 - 1074;
    setRaw(w2 | 0, w3 | 0, (sign << 15) | (e + 16383));
    return;
  }
  setRaw(lo << 11, (0x80000000 | (fh << 11) | (lo >>> 21)) | 0, (sign << 15) | (E - 1023 + 16383));
}

/** FILD: a signed 64-bit integer (lo, hi), exact. */
export function loadInt(lo: number, hi: number): void {
  let sign = 0;
  let l = lo >>> 0, h = hi >>> 0;
  if (hi < 0) {
    sign = 1;
    l = (~l + 1) >>> 0;
    h = (~h + (l === 0 ? 1 : 0)) >>> 0;
  }
  if (h === 0 && l === 0) { setZero(0); return; }
  w3 = h; w2 = l; w1 = 0; w0 = 0;
  const sh = normW();
  setRaw(w2 | 0, w3 | 0, (sign << 15) | (16383 + 63 - sh));
}

// ---------------------------------------------------------------- stores

/** Output of the memory-store conversions: 32-bit value in S0, 64-bit in (S0 lo, S1 hi). */
export const S = new Int32Array(2);

/**
 * FST m32fp/m64fp (fmt FMT32 or FMT64): returns false when nothing may be stored (unmasked exception).
 */
export function storeFloat(lo: number, hi: number, se: number, fmt: number, fcw: number): boolean {
  unpack(0, lo, hi, se);
  const sign = aS;
  const masks = fcw & 0x3f;
  switch (aCl) {
    case CL_ZERO:
      S[0] = fmt === FMT32 ? sign << 31 : 0; S[1] = fmt === FMT32 ? 0 : sign << 31;
      return true;
    case CL_INF:
      if (fmt === FMT32) S[0] = (sign << 31) | 0x7f800000; else { S[0] = 0; S[1] = (sign << 31) | 0x7ff00000; }
      return true;
    case CL_QNAN: case CL_SNAN: case CL_BAD: {
      let h = hi >>> 0, l = lo >>> 0, sg = sign;
      if (aCl !== CL_QNAN) {
        fx.exc |= EX_IE;
        if ((masks & EX_IE) === 0) return false;
        if (aCl === CL_BAD) { h = 0xc0000000; l = 0; sg = 1; }
      }
      h |= 0x40000000;
      if (fmt === FMT32) S[0] = (sg << 31) | 0x7f800000 | ((h >>> 8) & 0x7fffff);
      else { S[0] = (h << 21) | (l >>> 11); S[1] = (sg << 31) | 0x7ff00000 | ((h >>> 11) & 0xfffff); }
      return true;
    }
  }
  w3 = aH; w2 = aL; w1 = 0; w0 = 0;
  if (!roundPack(sign, aE, fmt === FMT32 ? 24 : 53, fmt, (fcw >> 10) & 3, masks, false)) return false;
  if (fmt === FMT32) S[0] = (sign << 31) | (oE << 23) | ((oH >>> 8) & 0x7fffff);
  else { S[0] = (oH << 21) | (oL >>> 11); S[1] = (sign << 31) | (oE << 20) | ((oH >>> 11) & 0xfffff); }
  return true;
}

/**
 * FIST/FISTP/FISTTP to a `bits`-bit integer (16, 32, 64) with rounding `rc`: result in S (lo, hi). Out of range,
 * NaN, infinity or unsupported raise IE and give the integer indefinite (if IE is masked; else returns false).
 */
export function storeInt(lo: number, hi: number, se: number, bits: number, rc: number, fcw: number): boolean {
  unpack(0, lo, hi, se);
  if (aCl === CL_ZERO) { S[0] = 0; S[1] = 0; return true; }
  let ok = aCl === CL_FINITE;
  let rl = 0, rh = 0;
  if (ok) {
    const sign = aS, e = aE;
    if (e >= 63) {
      // only -2^63 fits (in 64 bits)
      ok = e === 63 && sign === 1 && bits === 64 && aH === 0x80000000 && aL === 0;
      rl = 0; rh = 0x80000000 | 0;
    } else {
      // Integer part is W >> (127 - e) with W = sig << 64; keep the fraction in (w1, w0) for rounding.
      w3 = aH; w2 = aL; w1 = 0; w0 = 0;
      if (e < -1) { w3 = 0; w2 = 0; w1 = 1; w0 = 0; } // |v| < 1/2: nonzero fraction below one half
      else shrW(63 - e);
      // now (w3, w2) = integer part, (w1, w0) = fraction (w1 top bit = 1/2)
      const frac = w1 >>> 0, rest = w0 !== 0;
      const inexact = frac !== 0 || rest;
      let inc = false;
      if (inexact) {
        switch (rc) {
          case RC_NEAREST: inc = frac > 0x80000000 || (frac === 0x80000000 && (rest || (w2 & 1) === 1)); break;
          case RC_DOWN: inc = sign === 1; break;
          case RC_UP: inc = sign === 0; break;
          default: inc = false; break;
        }
      }
      let ih = w3, il = w2;
      if (inc) { il += 1; if (il > 0xffffffff) { il = 0; ih += 1; } }
      // range check: magnitude <= 2^(bits-1) - 1 (+1 for negative)
      const limH = bits === 64 ? 0x80000000 : 0, limL = bits === 64 ? 0 : bits === 32 ? 0x80000000 : 0x8000;
      const over = ih > limH || (ih === limH && il > limL) || ((ih === limH && il === limL) && sign === 0);
      if (over || ih > 0xffffffff) ok = false;
      else {
        if (inexact) { fx.exc |= EX_PE; fx.up = inc ? 1 : 0; }
        if (sign === 1) {
          il = (~il + 1) >>> 0;
          ih = (~ih + (il === 0 ? 1 : 0)) >>> 0;
        }
        rl = il | 0; rh = ih | 0;
      }
    }
  }
  if (!ok) {
    fx.exc |= EX_IE;
    fx.up = 0;
    if ((fcw & EX_IE) === 0) return false;
    rl = bits === 64 ? 0 : bits === 32 ? 0x80000000 | 0 : 0x8000;
    rh = bits === 64 ? 0x80000000 | 0 : 0;
  }
  S[0] = rl; S[1] = rh;
  return true;
}

// ---------------------------------------------------------------- add / subtract

/** R = a + b (negB: a - b). */
export function add(al: number, ah: number, ase: number, bl: number, bh: number, bse: number, negB: boolean, fcw: number): void {
  unpack(0, al, ah, ase);
  unpack(1, bl, bh, bse);
  if (negB) bS ^= 1; // NaN operands keep their sign
  const rc = (fcw >> 10) & 3;
  if (aCl >= CL_QNAN || bCl >= CL_QNAN) {
    if (aCl === CL_BAD || bCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return; }
    nan2(al, ah, ase, bl, bh, bse);
    return;
  }
  if (den(fcw)) return;
  if (aCl === CL_INF) {
    if (bCl === CL_INF && aS !== bS) { fx.exc |= EX_IE; setIndefinite(); return; }
    setInf(aS); return;
  }
  if (bCl === CL_INF) { setInf(bS); return; }
  if (aCl === CL_ZERO && bCl === CL_ZERO) { setZero(aS === bS ? aS : rc === RC_DOWN ? 1 : 0); return; }
  if (bCl === CL_ZERO) { w3 = aH; w2 = aL; w1 = 0; w0 = 0; packReg(aS, aE, fcw); return; }
  if (aCl === CL_ZERO) { w3 = bH; w2 = bL; w1 = 0; w0 = 0; packReg(bS, bE, fcw); return; }
  // Order so that |A| >= |B|.
  let sA = aS, eA = aE, hA = aH, lA = aL, sB = bS, eB = bE, hB = bH, lB = bL;
  if (eB > eA || (eB === eA && (hB > hA || (hB === hA && lB > lA)))) {
    sA = bS; eA = bE; hA = bH; lA = bL; sB = aS; eB = aE; hB = aH; lB = aL;
  }
  // W = B aligned to A's exponent.
  w3 = hB; w2 = lB; w1 = 0; w0 = 0;
  shrW(eA - eB);
  let e = eA;
  if (sA === sB) {
    let t = w2 + lA;
    w2 = t >>> 0;
    t = w3 + hA + (t > 0xffffffff ? 1 : 0);
    w3 = t >>> 0;
    if (t > 0xffffffff) { shrW(1); w3 = (w3 | 0x80000000) >>> 0; e++; }
  } else {
    // A - W (A has zero low words)
    let t = 0 - w0; w0 = t >>> 0; let br = t < 0 ? 1 : 0;
    t = 0 - w1 - br; w1 = t >>> 0; br = t < 0 ? 1 : 0;
    t = lA - w2 - br; w2 = t >>> 0; br = t < 0 ? 1 : 0;
    t = hA - w3 - br; w3 = t >>> 0;
    if ((w3 | w2 | w1 | w0) === 0) { setZero(rc === RC_DOWN ? 1 : 0); return; }
    e -= normW();
  }
  packReg(sA, e, fcw);
}

// ---------------------------------------------------------------- multiply

const pa = new Float64Array(4), pb = new Float64Array(4), pp = new Float64Array(8);

/** W = (ah:al) * (bh:bl) (each 64-bit), exact 128-bit product. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  pa[0] = al & 0xffff; pa[1] = al >>> 16; pa[2] = ah & 0xffff; pa[3] = ah >>> 16;
  pb[0] = bl & 0xffff; pb[1] = bl >>> 16; pb[2] = bh & 0xffff; pb[3] = bh >>> 16;
  pp.fill(0);
  for (let i = 0; i < 4; i++) {
    const x = pa[i];
    if (x === 0) continue;
    for (let j = 0; j < 4; j++) pp[i + j] += x * pb[j];
  }
  // carry-propagate 16-bit limbs (partial sums < 2^35, exact in doubles)
  let c = 0;
  for (let k = 0; k < 8; k++) {
    const t = pp[k] + c;
    const lo16 = t % 65536;
    c = (t - lo16) / 65536;
    pp[k] = lo16;
  }
  w0 = (pp[0] + pp[1] * 65536) >>> 0;
  w1 = (pp[2] + pp[3] * 65536) >>> 0;
  w2 = (pp[4] + pp[5] * 65536) >>> 0;
  w3 = (pp[6] + pp[7] * 65536) >>> 0;
}

export function mul(al: number, ah: number, ase: number, bl: number, bh: number, bse: number, fcw: number): void {
  unpack(0, al, ah, ase);
  unpack(1, bl, bh, bse);
  if (aCl >= CL_QNAN || bCl >= CL_QNAN) {
    if (aCl === CL_BAD || bCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return; }
    nan2(al, ah, ase, bl, bh, bse);
    return;
  }
  if (den(fcw)) return;
  const sign = aS ^ bS;
  if (aCl === CL_INF || bCl === CL_INF) {
    if (aCl === CL_ZERO || bCl === CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; }
    setInf(sign); return;
  }
  if (aCl === CL_ZERO || bCl === CL_ZERO) { setZero(sign); return; }
  mul64(aH, aL, bH, bL);
  // product of two [1,2) values is in [1,4): leading bit at 127 (>=2) or 126
  let e = aE + bE + 1;
  e -= normW();
  packReg(sign, e, fcw);
}

// ---------------------------------------------------------------- divide and remainder

/** Remainder register for the shift-subtract loops: (rc carry bit, rH, rL). */
let rC = 0, rH = 0, rL = 0;

/** One restoring step against divisor (dh, dl): returns 1 and subtracts if R >= D. */
function divStep(dh: number, dl: number): number {
  if (rC !== 0 || rH > dh || (rH === dh && rL >= dl)) {
    const t = rL - dl;
    rL = t >>> 0;
    rH = (rH - dh - (t < 0 ? 1 : 0)) >>> 0;
    rC = 0;
    return 1;
  }
  return 0;
}

function remShl(): void {
  rC = rH >>> 31;
  rH = ((rH << 1) | (rL >>> 31)) >>> 0;
  rL = (rL << 1) >>> 0;
}

export function div(al: number, ah: number, ase: number, bl: number, bh: number, bse: number, fcw: number): void {
  unpack(0, al, ah, ase);
  unpack(1, bl, bh, bse);
  if (aCl >= CL_QNAN || bCl >= CL_QNAN) {
    if (aCl === CL_BAD || bCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return; }
    nan2(al, ah, ase, bl, bh, bse);
    return;
  }
  const sign = aS ^ bS;
  if (bCl === CL_ZERO && aCl === CL_FINITE) { fx.exc |= EX_ZE; setInf(sign); return; } // ZE wins over DE
  if (den(fcw)) return;
  if (aCl === CL_INF) {
    if (bCl === CL_INF) { fx.exc |= EX_IE; setIndefinite(); return; }
    setInf(sign); return;
  }
  if (bCl === CL_INF) { setZero(sign); return; }
  if (bCl === CL_ZERO) {
    if (aCl === CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; }
    fx.exc |= EX_ZE; setInf(sign); return;
  }
  if (aCl === CL_ZERO) { setZero(sign); return; }
  rC = 0; rH = aH; rL = aL;
  w3 = 0; w2 = 0; w1 = 0; w0 = 0;
  for (let i = 0; i < 67; i++) {
    if (divStep(bH, bL) !== 0) {
      const bit = 127 - i;
      if (bit >= 96) w3 = (w3 | (1 << (bit - 96))) >>> 0;
      else if (bit >= 64) w2 = (w2 | (1 << (bit - 64))) >>> 0;
      else w1 = (w1 | (1 << (bit - 32))) >>> 0;
    }
    remShl();
  }
  if ((rC | rH | rL) !== 0) w0 = 1;
  const e = aE - bE - normW();
  packReg(sign, e, fcw);
}

/**
 * FPREM (nearest = false) / FPREM1 (nearest = true): R = partial remainder of a / b; returns the condition bits
 * as C0 (Q2) << 8 | C1 (Q0) << 9 | C2 << 10 | C3 (Q1) << 14 (only the C bits), or -1 when R holds a special result
 * with C2 = 0 and the quotient bits cleared.
 */
export function prem(al: number, ah: number, ase: number, bl: number, bh: number, bse: number, nearest: boolean, fcw: number): number {
  unpack(0, al, ah, ase);
  unpack(1, bl, bh, bse);
  if (aCl >= CL_QNAN || bCl >= CL_QNAN) {
    if (aCl === CL_BAD || bCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return -1; }
    nan2(al, ah, ase, bl, bh, bse);
    return -1;
  }
  if (aCl === CL_INF || bCl === CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return -1; }
  if (den(fcw)) return -1;
  if (aCl === CL_ZERO || bCl === CL_INF) { setRaw(al, ah, ase & 0xffff); if (aDen) { w3 = aH; w2 = aL; w1 = 0; w0 = 0; packReg64(aS, aE, fcw); } return 0; }
  const d = aE - bE;
  let sign = aS;
  let q = 0;
  let partial = false;
  let iters: number;
  if (d < 0) {
    if (!nearest || d < -1) {
      w3 = aH; w2 = aL; w1 = 0; w0 = 0;
      packReg64(aS, aE, fcw);
      return 0;
    }
    // FPREM1 with |a| in [|b|/2, |b|): remainder is a or a - b
    // compare a = A*2^(eB-1) against b/2 = B*2^(eB-1): i.e. A vs B
    const gt = aH > bH || (aH === bH && aL > bL);
    if (!gt) { w3 = aH; w2 = aL; w1 = 0; w0 = 0; packReg64(aS, aE, fcw); return 0; }
    // result = b - a in units of 2^(eB-64): 2B - A (65 bits)
    let t = ((bL << 1) >>> 0) - aL;
    w1 = t >>> 0;
    const br = t < 0 ? 1 : 0;
    t = (((bH << 1) | (bL >>> 31)) >>> 0) - aH - br;
    w2 = t >>> 0;
    w3 = ((bH >>> 31) - (t < 0 ? 1 : 0)) >>> 0;
    w0 = 0;
    // W = (2B - A) * 2^32 and b - a = (2B - A) * 2^(eB - 64), so the exponent of W's bit 127 is eB + 31
    const sh = normW();
    sign ^= 1;
    packReg64(sign, bE + 31 - sh, fcw);
    return 1 << 9; // Q0 = 1
  }
  if (d >= 64) {
    partial = true;
    iters = 32 + (d & 31); // reduce the exponent difference by an amount between 32 and 63
    if (nearest) iters = 32 + (d & 31);
  } else iters = d;
  rC = 0; rH = aH; rL = aL;
  for (let i = 0; i <= iters; i++) {
    q = ((q << 1) | divStep(bH, bL)) & 7;
    if (i < iters) remShl();
  }
  // remainder value = R * 2^(eA - iters - 63)
  let eR = aE - iters;
  if (nearest && !partial) {
    // round the quotient to nearest: compare 2R with B
    const r2C = rH >>> 31, r2H = ((rH << 1) | (rL >>> 31)) >>> 0, r2L = (rL << 1) >>> 0;
    const gt = r2C !== 0 || r2H > bH || (r2H === bH && r2L > bL);
    const eq = r2C === 0 && r2H === bH && r2L === bL;
    if (gt || (eq && (q & 1) === 1)) {
      // R = B - R
      const t = bL - rL;
      rL = t >>> 0;
      rH = (bH - rH - (t < 0 ? 1 : 0)) >>> 0;
      sign ^= 1;
      q = (q + 1) & 7;
    }
  }
  if ((rH | rL) === 0) {
    setZero(aS);
  } else {
    w3 = rH; w2 = rL; w1 = 0; w0 = 0;
    eR -= normW();
    packReg64(sign, eR, fcw);
  }
  if (partial) return 1 << 10;
  return (((q >> 2) & 1) << 8) | ((q & 1) << 9) | (((q >> 1) & 1) << 14);
}

// ---------------------------------------------------------------- compare

/** Compare a with b: 0 greater, 1 less, 2 equal, 3 unordered. `quiet`: only SNaNs raise IE (FUCOM). */
export function compare(al: number, ah: number, ase: number, bl: number, bh: number, bse: number, quiet: boolean): number {
  unpack(0, al, ah, ase);
  unpack(1, bl, bh, bse);
  if (aCl >= CL_QNAN || bCl >= CL_QNAN) {
    if (!quiet || aCl === CL_SNAN || bCl === CL_SNAN || aCl === CL_BAD || bCl === CL_BAD) fx.exc |= EX_IE;
    return 3;
  }
  if (aDen || bDen || fx.den !== 0) fx.exc |= EX_DE;
  return cmpUnpacked();
}

function cmpUnpacked(): number {
  if (aCl === CL_ZERO && bCl === CL_ZERO) return 2;
  // signs
  const aNeg = aCl !== CL_ZERO && aS === 1, bNeg = bCl !== CL_ZERO && bS === 1;
  if (aCl === CL_ZERO) return bNeg ? 0 : 1;
  if (bCl === CL_ZERO) return aNeg ? 1 : 0;
  if (aS !== bS) return aS === 1 ? 1 : 0;
  // same sign, both nonzero
  let c: number; // magnitude comparison: 1 a>b, -1 a<b, 0 equal
  if (aCl === CL_INF || bCl === CL_INF) c = aCl === bCl ? 0 : aCl === CL_INF ? 1 : -1;
  else if (aE !== bE) c = aE > bE ? 1 : -1;
  else if (aH !== bH) c = aH > bH ? 1 : -1;
  else if (aL !== bL) c = aL > bL ? 1 : -1;
  else c = 0;
  if (c === 0) return 2;
  if (aS === 1) c = -c;
  return c > 0 ? 0 : 1;
}

// ---------------------------------------------------------------- square root, round to integer, scale, extract

export function sqrt(al: number, ah: number, ase: number, fcw: number): void {
  unpack(0, al, ah, ase);
  if (aCl === CL_QNAN || aCl === CL_SNAN) { nan1(al, ah, ase); return; }
  if (aCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return; }
  if (aCl === CL_ZERO) { setZero(aS); return; }
  if (aS === 1) { fx.exc |= EX_IE; setIndefinite(); return; }
  if (aCl === CL_INF) { setInf(0); return; }
  if (den1(fcw)) return;
  // value = sig * 2^(e - 63); make the exponent even: odd = (e - 63) & 1
  const odd = (aE - 63) & 1;
  const sig = (BigInt(aH) << 32n) | BigInt(aL);
  const n = sig << BigInt(66 + odd); // root ~ 2^65..2^66
  let r = BigInt(Math.floor(Math.sqrt(Number(n))));
  for (let k = 0; k < 4; k++) r = (r + n / r) >> 1n;
  while (r * r > n) r--;
  while ((r + 1n) * (r + 1n) <= n) r++;
  const exact = r * r === n;
  // value = r * 2^(-33) * 2^((e - 63 - odd) / 2)
  const len = r.toString(2).length;
  const w = r << BigInt(128 - len);
  w3 = Number((w >> 96n) & 0xffffffffn); w2 = Number((w >> 64n) & 0xffffffffn);
  w1 = Number((w >> 32n) & 0xffffffffn); w0 = Number(w & 0xffffffffn);
  if (!exact) w0 = (w0 | 1) >>> 0;
  const e = (len - 1) - 33 + (aE - 63 - odd) / 2;
  packReg(0, e, fcw);
}

/** FRNDINT: round to an integral value with the FCW rounding mode. */
export function roundInt(al: number, ah: number, ase: number, fcw: number): void {
  unpack(0, al, ah, ase);
  if (aCl === CL_QNAN || aCl === CL_SNAN) { nan1(al, ah, ase); return; }
  if (aCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return; }
  if (aCl === CL_ZERO || aCl === CL_INF) { setRaw(al, ah, ase & 0xffff); return; }
  if (den1(fcw)) return;
  const rc = (fcw >> 10) & 3, sign = aS;
  if (aE >= 63) { setRaw(al, ah, ase & 0xffff); return; }
  w3 = aH; w2 = aL; w1 = 0; w0 = 0;
  if (aE < -1) { w3 = 0; w2 = 0; w1 = 1; w0 = 0; } // |v| < 1/2: nonzero fraction below one half
  else shrW(63 - aE);
  const frac = w1 >>> 0, rest = w0 !== 0;
  const inexact = frac !== 0 || rest;
  let inc = false;
  if (inexact) {
    switch (rc) {
      case RC_NEAREST: inc = frac > 0x80000000 || (frac === 0x80000000 && (rest || (w2 & 1) === 1)); break;
      case RC_DOWN: inc = sign === 1; break;
      case RC_UP: inc = sign === 0; break;
      default: inc = false; break;
    }
    fx.exc |= EX_PE;
    fx.up = inc ? 1 : 0;
  }
  let ih = w3, il = w2;
  if (inc) { il += 1; if (il > 0xffffffff) { il = 0; ih += 1; } }
  if (ih === 0 && il === 0) { setZero(sign); return; }
  w3 = ih >>> 0; w2 = il >>> 0; w1 = 0; w0 = 0;
  if (ih > 0xffffffff) { w3 = 0x80000000; setRaw(0, 0x80000000 | 0, (sign << 15) | (16383 + 64)); return; }
  const sh = normW();
  setRaw(w2 | 0, w3 | 0, (sign << 15) | (16383 + 63 - sh));
}

/** FSCALE: a * 2^trunc(b). */
export function scale(al: number, ah: number, ase: number, bl: number, bh: number, bse: number, fcw: number): void {
  unpack(0, al, ah, ase);
  unpack(1, bl, bh, bse);
  if (aCl >= CL_QNAN || bCl >= CL_QNAN) {
    if (aCl === CL_BAD || bCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return; }
    nan2(al, ah, ase, bl, bh, bse);
    return;
  }
  if (den(fcw)) return;
  if (bCl === CL_INF) {
    if (bS === 0) {
      if (aCl === CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; }
      setInf(aS); return;
    }
    if (aCl === CL_INF) { fx.exc |= EX_IE; setIndefinite(); return; }
    setZero(aS); return;
  }
  if (aCl === CL_ZERO || aCl === CL_INF) { setRaw(al, ah, ase & 0xffff); return; }
  // n = trunc(b), clamped (beyond +-2^16 everything overflows/underflows the same way)
  let n = 0;
  if (bCl === CL_FINITE && bE >= 0) {
    n = bE >= 20 ? 1 << 20 : Math.floor((bH >>> 0) / 2 ** (31 - bE));
    if (bS === 1) n = -n;
  }
  w3 = aH; w2 = aL; w1 = 0; w0 = 0;
  packReg64(aS, aE + n, fcw); // FSCALE ignores the precision control
}

/** FXTRACT: R = significand (exponent 0), X = exponent as a value. Returns false for special handling done in R. */
export const X = new Int32Array(3);
export function extract(al: number, ah: number, ase: number, fcw: number): boolean {
  unpack(0, al, ah, ase);
  if (aCl === CL_QNAN || aCl === CL_SNAN) { nan1(al, ah, ase); X[0] = R[0]; X[1] = R[1]; X[2] = R[2]; return true; }
  if (aCl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); X[0] = R[0]; X[1] = R[1]; X[2] = R[2]; return true; }
  if (aCl === CL_ZERO) {
    fx.exc |= EX_ZE;
    if ((fcw & EX_ZE) === 0) return false;
    X[0] = 0; X[1] = 0x80000000 | 0; X[2] = 0xffff; // -inf
    setZero(aS);
    return true;
  }
  if (aCl === CL_INF) { X[0] = 0; X[1] = 0x80000000 | 0; X[2] = 0x7fff; setInf(aS); return true; }
  if (den1(fcw)) return false;
  loadInt(aE, aE >> 31);
  X[0] = R[0]; X[1] = R[1]; X[2] = R[2];
  setRaw(aL | 0, aH | 0, (aS << 15) | 16383);
  return true;
}

// ---------------------------------------------------------------- helpers for the transcendental functions

const cvt = new DataView(new ArrayBuffer(8));

/** Split a finite raw value into two doubles with x = xh + xl exactly (xh = x rounded to 53 bits): `sp`. */
export const sp = { h: 0, l: 0, e: 0, mh: 0, ml: 0 };
export function split(lo: number, hi: number, se: number): void {
  unpack(0, lo, hi, se);
  const sg = aS === 1 ? -1 : 1;
  if (aCl !== CL_FINITE) { sp.h = aCl === CL_ZERO ? sg * 0 : aCl === CL_INF ? sg * Infinity : NaN; sp.l = 0; sp.e = 0; sp.mh = 0; sp.ml = 0; return; }
  // m = significand / 2^63 in [1, 2) as mh + ml (exact), x = m * 2^e
  const top = aH * 4294967296;
  const mInt = top + aL; // rounded to 53 bits
  const rest = (top - mInt) + aL; // exact remainder
  sp.e = aE;
  sp.mh = mInt * 2 ** -63;
  sp.ml = rest * 2 ** -63;
  sp.h = sg * sp.mh * 2 ** aE;
  sp.l = sg * sp.ml * 2 ** aE;
}

/** R = hi + lo (two doubles) rounded once to 64 bits with the FCW rounding (the precision control is ignored). */
export function fromDD(hi: number, lo: number, fcw: number): void {
  const save = fx.exc;
  cvt.setFloat64(0, hi, true);
  loadF64(cvt.getInt32(0, true), cvt.getInt32(4, true));
  const l1 = R[0], h1 = R[1], e1 = R[2];
  cvt.setFloat64(0, lo, true);
  loadF64(cvt.getInt32(0, true), cvt.getInt32(4, true));
  fx.exc = save;
  add(l1, h1, e1, R[0], R[1], R[2], false, fcw | 0x33f);
}

/**
 * R = x moved by an amount far below its last bit: `dir` -1 toward zero, +1 away from zero (f(x) = x - x^3/6
 * and the like for tiny x), rounded with the FCW rounding at 64 bits: raises PE and sets C1 as the host does.
 */
export function nudge(lo: number, hi: number, se: number, dir: number, fcw: number): void {
  unpack(0, lo, hi, se);
  w3 = aH; w2 = aL; w1 = 0; w0 = 1;
  if (dir < 0) {
    // sig - epsilon: (w3, w2) - 1 with all-ones below
    let t = w2 - 1;
    w2 = t >>> 0;
    t = w3 - (t < 0 ? 1 : 0);
    w3 = t >>> 0;
    w1 = 0xffffffff; w0 = 0xffffffff;
    if ((w3 & 0x80000000) === 0) { const sh = normW(); roundPack(aS, aE - sh, 64, FMT80, (fcw >> 10) & 3, fcw & 0x3f, true); R[0] = oL; R[1] = oH; R[2] = (aS << 15) | oE; return; }
  }
  roundPack(aS, aE, 64, FMT80, (fcw >> 10) & 3, fcw & 0x3f, true);
  R[0] = oL; R[1] = oH; R[2] = (aS << 15) | oE;
}

// ---------------------------------------------------------------- constants

/** FLDPI and friends: 128-bit significands (hi..lo words) and biased exponents, rounded with the FCW's RC. */
const CONSTS: [number, number, number, number, number][] = [
  [0xd49a784b, 0xcd1b8afe, 0x492bf6ff, 0x4dafdb4c, 0x4000], // log2(10)
  [0xb8aa3b29, 0x5c17f0bb, 0xbe87fed0, 0x691d3e88, 0x3fff], // log2(e)
  [0xc90fdaa2, 0x2168c234, 0xc4c6628b, 0x80dc1cd1, 0x4000], // pi
  [0x9a209a84, 0xfbcff798, 0x8f8959ac, 0x0b7c9178, 0x3ffd], // log10(2)
  [0xb17217f7, 0xd1cf79ab, 0xc9e3b398, 0x03f2f6af, 0x3ffe], // ln(2)
];

/** R = a 128-bit significand (words high to low) with a biased exponent and sign, rounded to 64 bits per the RC. */
export function loadConstRaw(c: number[], biasedExp: number, sign: number, fcw: number): void {
  w3 = c[0] >>> 0; w2 = c[1] >>> 0; w1 = c[2] >>> 0; w0 = c[3] >>> 0;
  roundPack(sign, biasedExp - 16383, 64, FMT80, (fcw >> 10) & 3, 0x3f, true);
  R[0] = oL; R[1] = oH; R[2] = (sign << 15) | oE;
}

/** Load constant k (0 L2T, 1 L2E, 2 PI, 3 LG2, 4 LN2) rounded to 64 bits with the FCW's rounding control. */
export function loadConst(k: number, fcw: number): void {
  const c = CONSTS[k];
  w3 = c[0] >>> 0; w2 = c[1] >>> 0; w1 = c[2] >>> 0; w0 = c[3] >>> 0;
  const saveExc = fx.exc, saveUp = fx.up;
  roundPack(0, c[4] - 16383, 64, FMT80, (fcw >> 10) & 3, 0x3f, true);
  fx.exc = saveExc; fx.up = saveUp; // constants are loaded without raising precision exceptions
  R[0] = oL; R[1] = oH; R[2] = oE;
}

// ---------------------------------------------------------------- packed BCD

/** FBLD: 10 bytes of packed BCD to R. */
export function loadBcd(bytes: Uint8Array): void {
  let v = 0n;
  for (let k = 8; k >= 0; k--) {
    const b = bytes[k];
    v = v * 100n + BigInt((b >> 4) * 10 + (b & 15));
  }
  const neg = (bytes[9] & 0x80) !== 0;
  if (v === 0n) { setZero(neg ? 1 : 0); return; }
  const u = v;
  loadInt(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
  if (neg) R[2] |= 0x8000;
}

/** FBSTP: R (raw) rounded per RC to packed BCD in `out` (10 bytes); false if nothing may be stored. */
export function storeBcd(lo: number, hi: number, se: number, fcw: number, out: Uint8Array): boolean {
  unpack(0, lo, hi, se);
  const sign = aS;
  let okv = aCl === CL_FINITE || aCl === CL_ZERO;
  let mag = 0n;
  if (okv && aCl === CL_FINITE) {
    if (!storeInt(lo, hi, se, 64, (fcw >> 10) & 3, fcw | EX_IE) || (fx.exc & EX_IE) !== 0) okv = false;
    else {
      mag = BigInt.asIntN(64, (BigInt(S[1] >>> 0) << 32n) | BigInt(S[0] >>> 0));
      if (mag < 0n) mag = -mag;
      if (mag >= 1000000000000000000n) { okv = false; fx.exc &= ~EX_PE; fx.up = 0; }
    }
  }
  if (!okv) {
    fx.exc |= EX_IE;
    if ((fcw & EX_IE) === 0) return false;
    out.fill(0);
    out[7] = 0xc0; out[8] = 0xff; out[9] = 0xff;
    return true;
  }
  for (let k = 0; k < 9; k++) {
    const d0 = Number(mag % 10n); mag /= 10n;
    const d1 = Number(mag % 10n); mag /= 10n;
    out[k] = d0 | (d1 << 4);
  }
  out[9] = sign === 1 ? 0x80 : 0;
  return true;
}
