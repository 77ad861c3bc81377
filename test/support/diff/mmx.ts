// MMX plumbing for differential tests, on top of the generic harness (diff.ts), which compares GPRs, flags and a
// data window: the whole x87/MMX/SSE state travels through the window as an FXSAVE image. `wrap` surrounds an
// instruction with FXRSTOR64 of a generated image (random TOP, tags, exponents and condition codes, MM0-7 as the
// significands, XMM0-15, MXCSR) and FXSAVE64 back into the same place, followed by FNSTENV (the full tag word,
// which the processor derives from the register contents). So the host's and the VP's MM registers, the
// exponent fields MMX writes set to all ones, TOP, the abridged and full tag words, FSW, XMM registers and MXCSR
// after the instruction are all compared, as are the memory operands, GPRs and EFLAGS (MMX changes no flags).
// Fields that are host-specific are cleared after the dump with MOVs (no flag changes): MXCSR_MASK's upper half
// (this AMD host reports MXCSR.MM as supported), and FOP/FIP/FDP in both images (AMD stores them as zero while
// FSW.ES is clear; MMX instructions do not change them). Purely additive: forms built here are ordinary DiffForms.
import { DATA, type Rng } from './diff.js';
import { fillVec, type Kind } from './xmm.js';

/** Window size the MMX forms need. */
export const WINDOW = 0x400;
/** Window layout: memory operands at 0x000-0x0ff, store targets at 0x100-0x1df, FNSTENV image, FXSAVE image. */
export const STORE = 0x100, ENV = 0x1e0, FX = 0x200;
export const MEM = DATA;

export interface Spec {
  /** Lanes of the MM registers, XMM registers and memory. */
  kind: Kind;
  /** Lanes of the source registers (mm2, mm6, xmm2, xmm13) and memory, if different (shift counts...). */
  srcKind?: Kind;
  /** Random MXCSR (rounding, DAZ/FTZ, sticky flags) instead of 0x1F80. */
  mx?: boolean;
  /**
   * A pending unmasked x87 exception (FSW.ES with an unmasked flag): the instruction must raise #MF (CR0.NE is set
   * in both worlds) or, where it does not check, run normally.
   */
  pending?: boolean;
}

/** MM and XMM registers that get srcKind lanes. */
export const SRC_MM = [2, 6], SRC_XMM = [2, 13];

function put16(b: Uint8Array, off: number, v: number): void { b[off] = v & 0xff; b[off + 1] = (v >>> 8) & 0xff; }
function put32(b: Uint8Array, off: number, v: number): void { for (let k = 0; k < 4; k++) b[off + k] = (v >>> (8 * k)) & 0xff; }

/** Generate the memory operands and the FXRSTOR image. */
export function memFill(spec: Spec): (r: Rng, b: Uint8Array) => void {
  return (r, b) => {
    const src = spec.srcKind ?? spec.kind;
    for (let k = 0; k < 16; k++) fillVec(r, b, 16 * k, src);
    // x87 environment: FCW with every exception masked (random precision/rounding control), FSW with a random
    // TOP, condition codes and (masked, so ES clear) sticky exception flags, random abridged tags.
    const fx = FX;
    put16(b, fx, 0x037f | (r.u32() & 0xf00));
    let fsw = (r.below(8) << 11) | (r.u32() & 0x4700) | (r.u32() & 0x7f);
    if (spec.pending) {
      // One unmasked exception flag (IE, DE, ZE, OE, UE or PE) set, with ES and B.
      const e = 1 << r.below(6);
      put16(b, fx, (0x037f & ~e) | (r.u32() & 0xf00));
      fsw |= e | 0x8080;
    }
    put16(b, fx + 2, fsw);
    b[fx + 4] = r.u32() & 0xff; b[fx + 5] = 0;
    put16(b, fx + 6, r.u32() & 0x7ff);
    let mx = 0x1f80;
    if (spec.mx) {
      mx |= r.below(4) << 13;
      if (r.below(4) === 0) mx |= r.below(64);
      if (r.below(5) === 0) mx |= 0x40;
      if (r.below(5) === 0) mx |= 0x8000;
    }
    put32(b, fx + 24, mx);
    // ST0-7 (in stack order from TOP): the significand is the MM register (physical order, so MMx is slot
    // (x - TOP) & 7), the exponent random with all ones and zero common.
    const top = (fsw >> 11) & 7;
    for (let p = 0; p < 8; p++) {
      const slot = fx + 32 + 16 * ((p - top) & 7);
      fillVec(r, b, slot, SRC_MM.includes(p) ? src : spec.kind);
      const ek = r.below(4);
      put16(b, slot + 8, ek === 0 ? 0xffff : ek === 1 ? 0 : r.u32());
    }
    for (let x = 0; x < 16; x++) fillVec(r, b, fx + 160 + 16 * x, SRC_XMM.includes(x) ? src : spec.kind);
    // Reserved bytes 416-463: FXSAVE leaves them alone on this AMD host, the VP writes zeros (as Intel documents
    // them reserved, either is fine): start them as zero so the comparison is about MMX, not this.
    b.fill(0, fx + 416, fx + 464);
    if (spec.srcKind === undefined) {
      // Copy lanes between MM registers and memory so equal operands are common (compares, subtractions).
      for (let n = r.below(6); n > 0; n--) {
        const to = fx + 32 + 16 * r.below(8) + 4 * r.below(2);
        const from = r.below(2) === 0 ? fx + 32 + 16 * r.below(8) + 4 * r.below(2) : 4 * r.below(64);
        b.copyWithin(to, from, from + 4);
      }
    }
  };
}

const hex = (n: number): string => '0x' + n.toString(16);

/** The instruction between FXRSTOR64 of the image and the dump (FXSAVE64, FNSTENV, scrubbing). */
export function wrap(insn: string): string {
  const fx = DATA + FX, env = DATA + ENV;
  return [
    `fxrstor64 [${hex(fx)}]`,
    insn,
    `fxsave64 [${hex(fx)}]`,
    `fnstenv [${hex(env)}]`,
    // FXSAVE: FOP, FIP, FDP, MXCSR_MASK[31:16]; FNSTENV: FIP, FCS/FOP, FDP, FDS.
    `mov WORD PTR [${hex(fx + 6)}], 0`, `mov QWORD PTR [${hex(fx + 8)}], 0`, `mov QWORD PTR [${hex(fx + 16)}], 0`,
    `mov WORD PTR [${hex(fx + 30)}], 0`,
    `mov QWORD PTR [${hex(env + 12)}], 0`, `mov QWORD PTR [${hex(env + 20)}], 0`,
  ].join('\n');
}
