// XMM/MXCSR plumbing for differential tests of SSE instructions, on top of the generic harness (diff.ts): the
// harness compares GPRs, flags and a data window, so XMM registers and MXCSR travel through the window. `wrap`
// surrounds an instruction with loads of MXCSR and XMM0-15 from the window and stores of them back (then
// restores the default MXCSR), and `xmmFill` generates the window: edge-biased lane values per lane type and a
// random MXCSR. Purely additive: forms built here are ordinary DiffForms.
import { DATA, type Rng } from './diff.js';

/** Window size the SSE forms need. */
export const WINDOW = 0x400;
/** Window layout: memory operands at 0x000-0x0ff, XMM0-15 at 0x100, MXCSR in/out and the default MXCSR. */
export const XMM_AREA = 0x100, MX_IN = 0x200, MX_OUT = 0x204, MX_DEFAULT = 0x208;
export const MEM = DATA; // 16-byte aligned memory operands at MEM + 0x00..0xf0

export type Kind = 'f32' | 'f64' | 'int' | 'count' | 'i32' | 'special32' | 'special32s';

const EDGE32 = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xffe00001, 0x7fa00001,
  0xff800001, 0x7f800001, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00400000, 0x00800000, 0x80800000,
  0x00800001, 0x7f7fffff, 0xff7fffff, 0x7f000000, 0x3f800000, 0xbf800000, 0x3f000000, 0xbf000000, 0x3fc00000,
  0x40200000, 0xc0200000, 0x40000000, 0x4f000000, 0xcf000000, 0x4effffff, 0xceffffff, 0x5f000000, 0xdf000000,
  0x5effffff, 0x3f800001, 0x3f7fffff, 0x33800000, 0x0c000000, 0x1f800000, 0x5f7fffff,
];
const EDGE64: [number, number][] = [
  [0, 0], [0x80000000, 0], [0x7ff00000, 0], [0xfff00000, 0], [0x7ff80000, 0], [0xfff80000, 0], [0x7ff81234, 0x5678],
  [0xfff00000, 1], [0x7ff40000, 0], [0x7ff00000, 0xdeadbeef], [0, 1], [0x80000000, 1], [0x000fffff, 0xffffffff],
  [0x00080000, 0], [0x00100000, 0], [0x80100000, 0], [0x00100000, 1], [0x7fefffff, 0xffffffff],
  [0xffefffff, 0xffffffff], [0x3ff00000, 0], [0xbff00000, 0], [0x3fe00000, 0], [0xbfe00000, 0], [0x3ff80000, 0],
  [0x40040000, 0], [0xc0040000, 0], [0x41e00000, 0], [0xc1e00000, 0], [0x41dfffff, 0xffc00000],
  [0x41dfffff, 0xffe00000], [0xc1e00000, 0x00100000], [0xc1e00000, 0x00200000], [0x43e00000, 0], [0xc3e00000, 0],
  [0x43dfffff, 0xffffffff], [0x3ff00000, 1], [0x3fefffff, 0xffffffff], [0x47efffff, 0xe0000000],
  [0x47efffff, 0xf0000000], [0x47efffff, 0xffffffff], [0x36a00000, 0], [0x38100000, 0], [0x380fffff, 0xffffffff],
  [0x369fffff, 0xffffffff], [0x4330000, 1], [0x43300000, 0], [0x3cb00000, 0],
];

function f32Lane(r: Rng): number {
  const k = r.below(8);
  if (k < 3) return EDGE32[r.below(EDGE32.length)];
  if (k < 6) return ((r.below(2) << 31) | ((127 - 20 + r.below(40)) << 23) | (r.u32() & 0x7fffff)) >>> 0; // normal, moderate
  if (k < 7) return ((r.below(2) << 31) | (r.below(2) === 0 ? r.u32() & 0x7fffff : ((1 + r.below(8)) << 23) | (r.u32() & 0x7fffff))) >>> 0; // tiny
  return r.u32();
}

function f64Lane(r: Rng, out: number[]): void {
  const k = r.below(8);
  if (k < 3) { const e = EDGE64[r.below(EDGE64.length)]; out[0] = e[0]; out[1] = e[1]; return; }
  if (k < 6) { out[0] = ((r.below(2) << 31) | ((1023 - 40 + r.below(80)) << 20) | (r.u32() & 0xfffff)) >>> 0; out[1] = r.u32(); return; }
  if (k < 7) { out[0] = ((r.below(2) << 31) | (r.below(2) === 0 ? r.u32() & 0xfffff : ((1 + r.below(8)) << 20) | (r.u32() & 0xfffff))) >>> 0; out[1] = r.u32(); return; }
  out[0] = r.u32(); out[1] = r.u32();
}

/** Fill one 16-byte vector of `kind` at b[off]. */
export function fillVec(r: Rng, b: Uint8Array, off: number, kind: Kind): void {
  const dv = new DataView(b.buffer, b.byteOffset + off, 16);
  const tmp = [0, 0];
  switch (kind) {
    case 'f32':
      for (let k = 0; k < 4; k++) dv.setUint32(4 * k, f32Lane(r), true);
      return;
    case 'special32':
    case 'special32s':
      // Values whose reciprocal (square root) approximations are exact: zeros, infinities, NaNs, denormals, and
      // huge values (reciprocal flushed to zero) or, for the square root ('special32s'), negative numbers.
      for (let k = 0; k < 4; k++) {
        const c = r.below(5);
        const v = c === 0 ? [0, 0x80000000, 0x7f800000, 0xff800000][r.below(4)]
          : c === 1 ? (r.u32() & 0x807fffff) | 0x7f800001
            : c === 2 ? (r.u32() & 0x807fffff)
              : c === 3 ? ((r.below(2) << 31) | (0xff << 23) | (r.u32() & 0x7fffff)) | 0x400000
                : kind === 'special32' ? (r.below(2) << 31) | ((253 + r.below(2)) << 23) | (r.u32() & 0x7fffff)
                  : (1 << 31) | ((1 + r.below(254)) << 23) | (r.u32() & 0x7fffff);
        dv.setUint32(4 * k, v >>> 0, true);
      }
      return;
    case 'f64':
      for (let k = 0; k < 2; k++) { f64Lane(r, tmp); dv.setUint32(8 * k + 4, tmp[0], true); dv.setUint32(8 * k, tmp[1], true); }
      return;
    case 'i32':
      for (let k = 0; k < 4; k++) {
        const c = r.below(4);
        dv.setUint32(4 * k, c === 0 ? [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x01000001, 0x00ffffff, 0x7fffffc0, 0x7fffff80][r.below(9)]
          : c === 1 ? r.below(0x1000000) : r.u32(), true);
      }
      return;
    case 'count':
      for (let k = 0; k < 2; k++) dv.setBigUint64(8 * k, r.below(3) === 0 ? r.value() : BigInt(r.below(70)), true);
      return;
    default:
      for (let k = 0; k < 2; k++) dv.setBigUint64(8 * k, r.value(), true);
  }
}

export interface Spec {
  kind: Kind;
  /** Kind of the source registers/memory if different (e.g. shift counts). */
  srcKind?: Kind;
  /** Random MXCSR (rounding mode, DAZ/FTZ, sticky flags) instead of the default 0x1f80. */
  mx?: boolean;
}

/** Source registers of the generated forms get srcKind: xmm2, xmm14 and the memory area. */
const SRC_REGS = [2, 14];

export function memFill(spec: Spec): (r: Rng, b: Uint8Array) => void {
  return (r, b) => {
    for (let k = 0; k < 16; k++) fillVec(r, b, k * 16, spec.srcKind ?? spec.kind); // memory operands
    for (let x = 0; x < 16; x++) fillVec(r, b, XMM_AREA + 16 * x, SRC_REGS.includes(x) && spec.srcKind ? spec.srcKind : spec.kind);
    if (!spec.srcKind) {
      // Copy lanes between registers and memory so equal operands and cancellations are common.
      for (let n = r.below(6); n > 0; n--) {
        const to = XMM_AREA + 16 * r.below(16) + 4 * r.below(4);
        const from = r.below(2) === 0 ? XMM_AREA + 16 * r.below(16) + 4 * r.below(4) : 16 * r.below(16) + 4 * r.below(4);
        if (spec.kind === 'f64') { b.copyWithin(to & ~7, from & ~7, (from & ~7) + 8); } else b.copyWithin(to, from, from + 4);
      }
    }
    const dv = new DataView(b.buffer, b.byteOffset);
    let mx = 0x1f80;
    if (spec.mx) {
      mx |= r.below(4) << 13;
      if (r.below(4) === 0) mx |= r.below(64);
      if (r.below(5) === 0) mx |= 0x40; // DAZ
      if (r.below(5) === 0) mx |= 0x8000; // FTZ
    }
    dv.setUint32(MX_IN, mx, true);
    dv.setUint32(MX_OUT, 0, true);
    dv.setUint32(MX_DEFAULT, 0x1f80, true);
  };
}

export function wrap(insn: string): string {
  const lines = [`ldmxcsr DWORD PTR [${DATA + MX_IN}]`];
  for (let x = 0; x < 16; x++) lines.push(`movdqu xmm${x}, XMMWORD PTR [${DATA + XMM_AREA + 16 * x}]`);
  lines.push(insn);
  for (let x = 0; x < 16; x++) lines.push(`movdqu XMMWORD PTR [${DATA + XMM_AREA + 16 * x}], xmm${x}`);
  lines.push(`stmxcsr DWORD PTR [${DATA + MX_OUT}]`, `ldmxcsr DWORD PTR [${DATA + MX_DEFAULT}]`);
  return lines.join('\n');
}

