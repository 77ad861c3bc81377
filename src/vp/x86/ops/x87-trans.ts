// x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, F2XM1, FYL2X, FYL2XP1, FPATAN.
//
// Best effort, not bit-exact: the functions are evaluated with the host's double-precision Math functions at
// the 53 leading bits of the argument plus a first-order correction for its remaining 11 bits, the sum rounded
// once to 64 bits (the precision control does not apply to these instructions, as on the host). Expected
// accuracy ~2^-52 relative (test/support/diff/x87.ts compares with the host within 2^-51 relative + 2^-60
// absolute). Special operands (zeros, infinities, NaNs, out-of-range arguments, tiny arguments where
// f(x) = x - tiny) follow the SDM exactly, tiny arguments with the correct rounding direction and PE/C1.
import {
  add, CL_BAD, CL_FINITE, CL_INF, CL_QNAN, CL_SNAN, CL_ZERO, classify, div, EX_DE, EX_IE, EX_PE,
  EX_ZE, fromDD, fx, loadConstRaw, mul, nudge, R, setIndefinite, sp, split,
} from './x87-float80.js';

/** Second result (FSINCOS: the sine pushed below the cosine... see fsincos; FPTAN: 1.0). */
export const R2 = new Int32Array(3);

export const T_SIN = 0, T_COS = 1, T_TAN = 2, T_F2XM1 = 3;

const PI = [0xc90fdaa2, 0x2168c234, 0xc4c6628b, 0x80dc1cd1];
// 3*pi/4 = 3 * pi / 4: significand of 3*pi (pi * 1.5 normalised), exponent of 3*pi/4 = 0x3fff + 1 - 1... computed below
/** 3*pi/4 in [2, 4): the 130-bit 3 * PI shifted right by 2 (the two bits shifted out are nonzero: sticky). */
const PI3_4 = [0, 0, 0, 0];
{
  const pi = (BigInt(PI[0]) << 96n) | (BigInt(PI[1]) << 64n) | (BigInt(PI[2]) << 32n) | BigInt(PI[3]);
  const v = (pi * 3n) >> 2n;
  PI3_4[0] = Number((v >> 96n) & 0xffffffffn); PI3_4[1] = Number((v >> 64n) & 0xffffffffn);
  PI3_4[2] = Number((v >> 32n) & 0xffffffffn); PI3_4[3] = Number(v & 0xffffffffn) | 1;
}

/** R = pi * 2^k (k = 0 pi, -1 pi/2, -2 pi/4) or 3pi/4 (k = 1), with sign, rounded per the FCW. */
function piConst(k: number, sign: number, fcw: number): void {
  if (k === 1) loadConstRaw(PI3_4, 0x4000, sign, fcw);
  else loadConstRaw(PI, 0x4000 + k, sign, fcw);
}

function nanOrInvalid(cl: number, lo: number, hi: number, se: number): boolean {
  if (cl === CL_QNAN || cl === CL_SNAN) {
    if (cl === CL_SNAN) fx.exc |= EX_IE;
    R[0] = lo; R[1] = hi | 0x40000000; R[2] = se & 0xffff;
    return true;
  }
  if (cl === CL_BAD) { fx.exc |= EX_IE; setIndefinite(); return true; }
  return false;
}

/**
 * Argument reduction as the x87 does it: modulo pi/2 with the 66-bit pi approximation the hardware uses (the
 * host's FSIN(2^54) matches this, not the exactly reduced value). Input: sp (split of x). Output: the quadrant
 * (k mod 4) and r = x - k * pi66/2 as the double-double (rH, rL), exactly rounded from the exact residue.
 */
const P66 = 0xc90fdaa22168c234cn; // pi * 2^66, 68 bits (the last two are zero)
let rH = 0, rL = 0;
function reduce(lo: number, hi: number, se: number): number {
  if (sp.e < -1) { rH = sp.h; rL = sp.l; return 0; } // |x| < 1/2 < pi/4: no reduction
  const sig = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const n = sig << BigInt(sp.e + 4); // x * 2^67
  let k = (2n * n + P66) / (2n * P66); // round(n / P66)
  let rn = n - k * P66; // r * 2^67
  if ((se & 0x8000) !== 0) { rn = -rn; k = -k; }
  const h = Number(rn);
  const l = Number(rn - BigInt(h));
  rH = h * 2 ** -67; rL = l * 2 ** -67;
  return Number(((k % 4n) + 4n) % 4n);
}

/**
 * One-operand functions of ST0 (raw lo/hi/se). Returns true when the operand is out of range for the
 * trigonometric ones (|x| >= 2^63: C2 = 1, nothing changes). FSINCOS: call with T_SIN and T_COS.
 */
export function trans1(op: number, lo: number, hi: number, se: number, fcw: number): boolean {
  const cl = classify(lo, hi, se);
  if (nanOrInvalid(cl, lo, hi, se)) return false;
  const E = se & 0x7fff, neg = (se & 0x8000) !== 0;
  if (op !== T_F2XM1 && cl === CL_FINITE && E >= 16383 + 63) return true;
  if (cl === CL_INF) {
    if (op === T_F2XM1) {
      if (neg) { R[0] = 0; R[1] = 0x80000000 | 0; R[2] = 0xbfff; } else { R[0] = lo; R[1] = hi; R[2] = se & 0xffff; }
      return false;
    }
    fx.exc |= EX_IE; setIndefinite(); return false;
  }
  if (cl === CL_ZERO) {
    if (op === T_COS) { R[0] = 0; R[1] = 0x80000000 | 0; R[2] = 0x3fff; } else { R[0] = lo; R[1] = hi; R[2] = se & 0xffff; }
    return false;
  }
  if (E === 0) { fx.exc |= EX_DE; if ((fcw & EX_DE) === 0) return false; }
  split(lo, hi, se);
  const tiny = sp.e < -33;
  switch (op) {
    case T_SIN: case T_COS: {
      if (tiny) {
        if (op === T_SIN) nudge(lo, hi, se, -1, fcw); else nudge(0, 0x80000000 | 0, 0x3fff, -1, fcw);
        return false;
      }
      // sin(r + q pi/2) / cos(r + q pi/2) from sin r and cos r, with the first-order term of rL
      const q = (reduce(lo, hi, se) + (op === T_COS ? 1 : 0)) & 3;
      const sr = Math.sin(rH), cr = Math.cos(rH);
      switch (q) {
        case 0: fromDD(sr, cr * rL, fcw); break;
        case 1: fromDD(cr, -sr * rL, fcw); break;
        case 2: fromDD(-sr, -cr * rL, fcw); break;
        default: fromDD(-cr, sr * rL, fcw); break;
      }
      break;
    }
    case T_TAN: {
      // tiny x: the host (AMD) rounds tan(x) as if it were slightly below x in magnitude, like sin(x)
      if (tiny) { nudge(lo, hi, se, -1, fcw); return false; }
      const q = reduce(lo, hi, se);
      const t = Math.tan(rH);
      if ((q & 1) === 0) fromDD(t, (1 + t * t) * rL, fcw);
      else { const c = -1 / t; fromDD(c, (1 + c * c) * rL, fcw); }
      break;
    }
    default: {
      // outside [-1, 1] the result is undefined by the SDM; the host returns the operand unchanged (with PE)
      if (sp.e >= 0 && !(sp.e === 0 && hi === (0x80000000 | 0) && lo === 0)) { R[0] = lo; R[1] = hi; R[2] = se & 0xffff; break; }
      if (sp.e < -60) {
        // 2^x - 1 = x ln 2 (1 + x ln2 / 2 + ...): the product rounded once is within the tolerance
        const l0 = lo, h0 = hi, e0 = se;
        loadConstRaw([0xb17217f7, 0xd1cf79ab, 0xc9e3b398, 0x03f2f6af], 0x3ffe, 0, 0x37f);
        mul(l0, h0, e0, R[0], R[1], R[2], fcw | 0x300);
        fx.exc |= EX_PE;
        return false;
      }
      const v = Math.expm1(sp.h * Math.LN2);
      fromDD(v, (v + 1) * Math.LN2 * sp.l, fcw);
      break;
    }
  }
  fx.exc |= EX_PE;
  return false;
}

/**
 * R = y * L with L = Lh + Ll (a double-double) first rounded to 64 bits (relative error 2^-64), then one rounded
 * multiply with the instruction's control word, so overflow, underflow (including the unmasked rebiased
 * responses) and denormal results come out of a single rounding.
 */
function mulDD(yl: number, yh: number, yse: number, Lh: number, Ll: number, fcw: number): void {
  const save = fx.exc;
  fromDD(Lh, Ll, 0x37f);
  fx.exc = save;
  mul(yl, yh, yse, R[0], R[1], R[2], fcw | 0x300);
}

export const T_YL2X = 0, T_YL2XP1 = 1, T_PATAN = 2;

/** FYL2X (y log2 x), FYL2XP1 (y log2(x + 1)), FPATAN (atan2(y, x)): x = ST0, y = ST1 (raw). */
export function trans2(op: number, xl: number, xh: number, xse: number, yl: number, yh: number, yse: number, fcw: number): void {
  const cx = classify(xl, xh, xse), cy = classify(yl, yh, yse);
  if (cx >= CL_QNAN || cy >= CL_QNAN) {
    mul(xl, xh, xse, yl, yh, yse, fcw); // the two-operand NaN rules (and IE for invalid encodings)
    return;
  }
  const xneg = (xse & 0x8000) !== 0, yneg = (yse & 0x8000) !== 0;
  if (op === T_YL2X && xneg && cx !== CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; } // before DE
  if ((cx === CL_FINITE && (xse & 0x7fff) === 0) || (cy === CL_FINITE && (yse & 0x7fff) === 0)) {
    fx.exc |= EX_DE;
    if ((fcw & EX_DE) === 0) return;
  }
  const inf = (neg: boolean): void => { R[0] = 0; R[1] = 0x80000000 | 0; R[2] = (neg ? 0x8000 : 0) | 0x7fff; };
  const zero = (neg: boolean): void => { R[0] = 0; R[1] = 0; R[2] = neg ? 0x8000 : 0; };
  if (op === T_PATAN) {
    if (cy === CL_ZERO || cx === CL_INF || cy === CL_INF || cx === CL_ZERO) {
      // atan2 conventions: results are 0, pi, pi/2, pi/4, 3pi/4 with signs
      if (cy === CL_INF) {
        if (cx === CL_INF) { piConst(xneg ? 1 : -2, yneg ? 1 : 0, fcw); fx.exc |= EX_PE; return; }
        piConst(-1, yneg ? 1 : 0, fcw); fx.exc |= EX_PE; return;
      }
      if (cx === CL_INF) {
        if (xneg) { piConst(0, yneg ? 1 : 0, fcw); fx.exc |= EX_PE; return; }
        zero(yneg); return;
      }
      if (cy === CL_ZERO) {
        if (xneg) { piConst(0, yneg ? 1 : 0, fcw); fx.exc |= EX_PE; return; }
        zero(yneg); return;
      }
      piConst(-1, yneg ? 1 : 0, fcw); fx.exc |= EX_PE; return; // x = 0, y finite nonzero
    }
    split(xl, xh, xse);
    const ex = sp.e, xmh = sp.mh, xml = sp.ml;
    split(yl, yh, yse);
    const ey = sp.e, ymh = sp.mh, yml = sp.ml;
    const d = ey - ex;
    if (d < -70 && !xneg) { div(yl, yh, yse, xl, xh, xse, fcw | 0x300); fx.exc |= EX_PE; return; }
    if (d > 70) { piConst(-1, yneg ? 1 : 0, fcw); fx.exc |= EX_PE; return; }
    // scale both by 2^-max(ex, ey): atan2 is invariant
    const m = Math.max(ex, ey);
    const sx = xneg ? -1 : 1, sy = yneg ? -1 : 1;
    const X = sx * xmh * 2 ** (ex - m), Xl = sx * xml * 2 ** (ex - m);
    const Y = sy * ymh * 2 ** (ey - m), Yl = sy * yml * 2 ** (ey - m);
    const a = Math.atan2(Y, X);
    fromDD(a, (X * Yl - Y * Xl) / (X * X + Y * Y), fcw);
    fx.exc |= EX_PE;
    return;
  }
  if (op === T_YL2X) {
    if (xneg && cx !== CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; }
    if (cx === CL_ZERO) {
      if (cy === CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; }
      if (cy !== CL_INF) fx.exc |= EX_ZE;
      inf(!yneg); return;
    }
    if (cx === CL_INF) {
      if (cy === CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; }
      inf(yneg); return;
    }
    split(xl, xh, xse);
    const e = sp.e;
    const lm = Math.log2(sp.mh), corr = sp.ml / (sp.mh * Math.LN2);
    const Lh = e + lm;
    const Ll = (e - Lh) + lm + corr;
    if (Lh === 0 && Ll === 0) {
      if (cy === CL_INF) { fx.exc |= EX_IE; setIndefinite(); return; }
      zero(yneg); return;
    }
    if (cy === CL_INF) { inf(yneg !== (Lh < 0)); return; }
    if (cy === CL_ZERO) { zero(yneg !== (Lh < 0)); return; }
    mulDD(yl, yh, yse, Lh, Ll, fcw);
    fx.exc |= EX_PE;
    return;
  }
  // FYL2XP1 (defined for |x| < 1 - sqrt(2)/2; outside, the host computes y log2(1 + x) for x > -1 and returns
  // x itself for x < -1)
  if (cx === CL_INF) {
    if (xneg || cy === CL_ZERO) { fx.exc |= EX_IE; setIndefinite(); return; }
    inf(yneg); return;
  }
  if (xneg && (xse & 0x7fff) >= 0x3fff) {
    // x <= -1: zeros and infinities of y as usual, otherwise the host returns x
    if (cy === CL_ZERO) { zero(xneg !== yneg); return; }
    if (cy === CL_INF) { inf(yneg !== xneg); return; }
    R[0] = xl; R[1] = xh; R[2] = xse & 0xffff; fx.exc |= EX_PE; return;
  }
  if (xneg && (xse & 0x7fff) === 0x3ffe) {
    // x in (-1, -1/2]: 1 + x is exact, then y log2(1 + x)
    const save = fx.exc;
    add(0, 0x80000000 | 0, 0x3fff, xl, xh, xse, false, 0x37f);
    fx.exc = save;
    trans2(T_YL2X, R[0], R[1], R[2], yl, yh, yse, fcw);
    return;
  }
  if (cx === CL_ZERO) {
    if (cy === CL_INF) { fx.exc |= EX_IE; setIndefinite(); return; }
    zero(xneg !== yneg); return;
  }
  if (!xneg && (xse & 0x7fff) >= 0x3fff + 60) { trans2(T_YL2X, xl, xh, xse, yl, yh, yse, fcw); return; } // log2(1 + x) = log2 x
  split(xl, xh, xse);
  if (cy === CL_INF) { inf(yneg !== xneg); return; }
  if (cy === CL_ZERO) { zero(yneg !== xneg); return; }
  if (sp.e < -60) {
    // log2(1 + x) = x log2(e) (1 - x/2 + ...): x log2(e) rounded to 64 bits, then one rounded multiply by y
    // (the first product with the operand of larger exponent, so it stays in range)
    const save = fx.exc;
    loadConstRaw([0xb8aa3b29, 0x5c17f0bb, 0xbe87fed0, 0x691d3e88], 0x3fff, 0, 0x37f);
    const xFirst = (xse & 0x7fff) > (yse & 0x7fff);
    if (xFirst) mul(xl, xh, xse, R[0], R[1], R[2], 0x37f); else mul(yl, yh, yse, R[0], R[1], R[2], 0x37f);
    const l0 = R[0], h0 = R[1], e0 = R[2];
    fx.exc = save;
    if (xFirst) mul(l0, h0, e0, yl, yh, yse, fcw | 0x302); // x log2(e) may be denormal: not an operand exception
    else mul(l0, h0, e0, xl, xh, xse, fcw | 0x302);
    fx.exc = (fx.exc & ~EX_DE) | (save & EX_DE) | EX_PE;
    return;
  }
  const Lh = Math.log1p(sp.h) / Math.LN2;
  const Ll = sp.l / ((1 + sp.h) * Math.LN2);
  mulDD(yl, yh, yse, Lh, Ll, fcw);
  fx.exc |= EX_PE;
}
