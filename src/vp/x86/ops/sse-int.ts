// SSE2 packed integer instructions on XMM registers (66 0F xx): logic (PAND/PANDN/POR/PXOR and the bitwise
// ANDPS/ANDNPS/ORPS/XORPS and PD forms, 0F 54-57), PADD/PSUB B/W/D/Q with the signed and unsigned saturating
// forms, PCMPEQ/PCMPGT B/W/D, PMINUB/PMAXUB/PMINSW/PMAXSW, PMULLW/PMULHW/PMULHUW/PMULUDQ/PMADDWD, PSADBW,
// PAVGB/PAVGW, and the shifts PSLL/PSRL/PSRA W/D/Q by an XMM/m128 count or by imm8 (groups 0F 71-73, which also
// hold PSRLDQ/PSLLDQ). Source operands in memory are 16 bytes and must be aligned.
// Lanes are handled 32 bits at a time with carry-free tricks where that is simple, else through the byte and
// word views of the state block (cpu.u8/cpu.u16 at the block's byte offset). The kernels (packedInt, shiftLanes)
// take the operand width in int32 words (4 here, 2 for the MMX forms in mmx-int.ts, whose registers are the
// significands of the x87 register file).
import { S_XMM } from '../state.js';
import { MAP0F, opUD, type DecodeFn } from '../decoder.js';
import type { Handler, Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { sseCheck, sseDecoder, srcA } from './sse-state.js';

export const I_AND = 0, I_ANDN = 1, I_OR = 2, I_XOR = 3;
export const I_ADDB = 4, I_ADDW = 5, I_ADDD = 6, I_ADDQ = 7, I_SUBB = 8, I_SUBW = 9, I_SUBD = 10, I_SUBQ = 11;
export const I_ADDSB = 12, I_ADDSW = 13, I_ADDUSB = 14, I_ADDUSW = 15, I_SUBSB = 16, I_SUBSW = 17, I_SUBUSB = 18, I_SUBUSW = 19;
export const I_EQB = 20, I_EQW = 21, I_EQD = 22, I_GTB = 23, I_GTW = 24, I_GTD = 25;
export const I_MINUB = 26, I_MAXUB = 27, I_MINSW = 28, I_MAXSW = 29;
export const I_MULLW = 30, I_MULHW = 31, I_MULHUW = 32, I_MULUDQ = 33, I_MADDWD = 34, I_SADBW = 35, I_AVGB = 36, I_AVGW = 37;

/** Bytes of x that are zero get 0x80 in that byte, others 0 (per-byte zero test without carries between bytes). */
function zeroBytes(x: number): number {
  return ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & (0x80808080 | 0);
}

function zeroWords(x: number): number {
  return ~(((x & 0x7fff7fff) + 0x7fff7fff) | x) & (0x80008000 | 0);
}

/** Unsigned 32 x 32 -> 64 multiply: returns the low half, high half in mulHi. */
let mulHi = 0;
function mul32x32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const lo = a0 * b0;
  const mid1 = a1 * b0, mid2 = a0 * b1;
  const hi = a1 * b1;
  const mid = mid1 + mid2; // < 2^33
  const low = lo + (mid % 65536) * 65536; // < 2^49
  mulHi = (hi + Math.floor(mid / 65536) + Math.floor(low / 4294967296)) | 0;
  return low | 0;
}

function satS8(v: number): number { return v > 127 ? 127 : v < -128 ? -128 : v; }
function satS16(v: number): number { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }

/** The two-operand packed integer operations: xmm(reg) = xmm(reg) op src. */
function intOp(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const r = srcA(cpu, i);
  packedInt(cpu, i.op, S_XMM + 4 * i.reg, r, 4);
}

/**
 * dst = dst op src on `n` int32 words (4: XMM, 2: MMX) at state indices d and r (I_* operations; r may be the
 * scratch slot holding a memory operand).
 */
export function packedInt(cpu: X86Cpu, op: number, d: number, r: number, n: number): void {
  const s = cpu.s;
  if (op <= I_XOR) {
    for (let k = 0; k < n; k++) {
      const a = s[d + k], b = s[r + k];
      s[d + k] = op === I_AND ? a & b : op === I_ANDN ? ~a & b : op === I_OR ? a | b : a ^ b;
    }
    return;
  }
  switch (op) {
    case I_ADDB:
      for (let k = 0; k < n; k++) { const a = s[d + k], b = s[r + k]; s[d + k] = ((a & 0x7f7f7f7f) + (b & 0x7f7f7f7f)) ^ ((a ^ b) & (0x80808080 | 0)); }
      return;
    case I_ADDW:
      for (let k = 0; k < n; k++) { const a = s[d + k], b = s[r + k]; s[d + k] = ((a & 0x7fff7fff) + (b & 0x7fff7fff)) ^ ((a ^ b) & (0x80008000 | 0)); }
      return;
    case I_ADDD:
      for (let k = 0; k < n; k++) s[d + k] = (s[d + k] + s[r + k]) | 0;
      return;
    case I_SUBB:
      for (let k = 0; k < n; k++) { const a = s[d + k], b = s[r + k]; s[d + k] = ((a | (0x80808080 | 0)) - (b & 0x7f7f7f7f)) ^ ((a ^ ~b) & (0x80808080 | 0)); }
      return;
    case I_SUBW:
      for (let k = 0; k < n; k++) { const a = s[d + k], b = s[r + k]; s[d + k] = ((a | (0x80008000 | 0)) - (b & 0x7fff7fff)) ^ ((a ^ ~b) & (0x80008000 | 0)); }
      return;
    case I_SUBD:
      for (let k = 0; k < n; k++) s[d + k] = (s[d + k] - s[r + k]) | 0;
      return;
    case I_ADDQ:
    case I_SUBQ:
      for (let k = 0; k < n; k += 2) {
        const al = s[d + k], ah = s[d + k + 1], bl = s[r + k], bh = s[r + k + 1];
        if (op === I_ADDQ) {
          const t = (al >>> 0) + (bl >>> 0);
          s[d + k] = t | 0; s[d + k + 1] = (ah + bh + (t > 0xffffffff ? 1 : 0)) | 0;
        } else {
          const t = (al >>> 0) - (bl >>> 0);
          s[d + k] = t | 0; s[d + k + 1] = (ah - bh - (t < 0 ? 1 : 0)) | 0;
        }
      }
      return;
    case I_EQB:
      for (let k = 0; k < n; k++) s[d + k] = (zeroBytes(s[d + k] ^ s[r + k]) >>> 7) * 0xff;
      return;
    case I_EQW:
      for (let k = 0; k < n; k++) s[d + k] = (zeroWords(s[d + k] ^ s[r + k]) >>> 15) * 0xffff;
      return;
    case I_EQD:
      for (let k = 0; k < n; k++) s[d + k] = s[d + k] === s[r + k] ? -1 : 0;
      return;
    case I_GTD:
      for (let k = 0; k < n; k++) s[d + k] = s[d + k] > s[r + k] ? -1 : 0;
      return;
    case I_MULUDQ:
      for (let k = 0; k < n; k += 2) { s[d + k] = mul32x32(s[d + k], s[r + k]); s[d + k + 1] = mulHi; }
      return;
  }
  const u8 = cpu.u8, u16 = cpu.u16;
  const bd = s.byteOffset + 4 * d, br = s.byteOffset + 4 * r; // byte offsets in cpu memory
  const wd = bd >> 1, wr = br >> 1;
  switch (op) {
    case I_ADDSB: for (let k = 0; k < 4 * n; k++) u8[bd + k] = satS8(((u8[bd + k] << 24) >> 24) + ((u8[br + k] << 24) >> 24)); return;
    case I_SUBSB: for (let k = 0; k < 4 * n; k++) u8[bd + k] = satS8(((u8[bd + k] << 24) >> 24) - ((u8[br + k] << 24) >> 24)); return;
    case I_ADDUSB: for (let k = 0; k < 4 * n; k++) { const v = u8[bd + k] + u8[br + k]; u8[bd + k] = v > 255 ? 255 : v; } return;
    case I_SUBUSB: for (let k = 0; k < 4 * n; k++) { const v = u8[bd + k] - u8[br + k]; u8[bd + k] = v < 0 ? 0 : v; } return;
    case I_ADDSW: for (let k = 0; k < 2 * n; k++) u16[wd + k] = satS16(((u16[wd + k] << 16) >> 16) + ((u16[wr + k] << 16) >> 16)); return;
    case I_SUBSW: for (let k = 0; k < 2 * n; k++) u16[wd + k] = satS16(((u16[wd + k] << 16) >> 16) - ((u16[wr + k] << 16) >> 16)); return;
    case I_ADDUSW: for (let k = 0; k < 2 * n; k++) { const v = u16[wd + k] + u16[wr + k]; u16[wd + k] = v > 65535 ? 65535 : v; } return;
    case I_SUBUSW: for (let k = 0; k < 2 * n; k++) { const v = u16[wd + k] - u16[wr + k]; u16[wd + k] = v < 0 ? 0 : v; } return;
    case I_GTB: for (let k = 0; k < 4 * n; k++) u8[bd + k] = ((u8[bd + k] << 24) >> 24) > ((u8[br + k] << 24) >> 24) ? 0xff : 0; return;
    case I_GTW: for (let k = 0; k < 2 * n; k++) u16[wd + k] = ((u16[wd + k] << 16) >> 16) > ((u16[wr + k] << 16) >> 16) ? 0xffff : 0; return;
    case I_MINUB: for (let k = 0; k < 4 * n; k++) { const a = u8[bd + k], b = u8[br + k]; u8[bd + k] = a < b ? a : b; } return;
    case I_MAXUB: for (let k = 0; k < 4 * n; k++) { const a = u8[bd + k], b = u8[br + k]; u8[bd + k] = a > b ? a : b; } return;
    case I_MINSW: for (let k = 0; k < 2 * n; k++) { const a = (u16[wd + k] << 16) >> 16, b = (u16[wr + k] << 16) >> 16; u16[wd + k] = a < b ? a : b; } return;
    case I_MAXSW: for (let k = 0; k < 2 * n; k++) { const a = (u16[wd + k] << 16) >> 16, b = (u16[wr + k] << 16) >> 16; u16[wd + k] = a > b ? a : b; } return;
    case I_MULLW: for (let k = 0; k < 2 * n; k++) u16[wd + k] = Math.imul(u16[wd + k], u16[wr + k]); return;
    case I_MULHW: for (let k = 0; k < 2 * n; k++) u16[wd + k] = (((u16[wd + k] << 16) >> 16) * ((u16[wr + k] << 16) >> 16)) >> 16; return;
    case I_MULHUW: for (let k = 0; k < 2 * n; k++) u16[wd + k] = (u16[wd + k] * u16[wr + k]) >>> 16; return;
    case I_MADDWD:
      for (let k = 0; k < n; k++) {
        const p0 = ((u16[wd + 2 * k] << 16) >> 16) * ((u16[wr + 2 * k] << 16) >> 16);
        const p1 = ((u16[wd + 2 * k + 1] << 16) >> 16) * ((u16[wr + 2 * k + 1] << 16) >> 16);
        s[d + k] = (p0 + p1) | 0;
      }
      return;
    case I_SADBW:
      for (let q = 0; q < n >> 1; q++) {
        let sum = 0;
        for (let k = 0; k < 8; k++) { const v = u8[bd + 8 * q + k] - u8[br + 8 * q + k]; sum += v < 0 ? -v : v; }
        s[d + 2 * q] = sum; s[d + 2 * q + 1] = 0;
      }
      return;
    case I_AVGB: for (let k = 0; k < 4 * n; k++) u8[bd + k] = (u8[bd + k] + u8[br + k] + 1) >> 1; return;
    case I_AVGW: for (let k = 0; k < 2 * n; k++) u16[wd + k] = (u16[wd + k] + u16[wr + k] + 1) >> 1; return;
  }
}

/** PXOR/XORPS with the same register (the zeroing idiom) and PXOR in general: the hottest forms, kept apart. */
function pxor(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s;
  const r = srcA(cpu, i);
  const d = S_XMM + 4 * i.reg;
  s[d] ^= s[r]; s[d + 1] ^= s[r + 1]; s[d + 2] ^= s[r + 2]; s[d + 3] ^= s[r + 3];
}

function pcmpeqb(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s;
  const r = srcA(cpu, i);
  const d = S_XMM + 4 * i.reg;
  s[d] = (zeroBytes(s[d] ^ s[r]) >>> 7) * 0xff;
  s[d + 1] = (zeroBytes(s[d + 1] ^ s[r + 1]) >>> 7) * 0xff;
  s[d + 2] = (zeroBytes(s[d + 2] ^ s[r + 2]) >>> 7) * 0xff;
  s[d + 3] = (zeroBytes(s[d + 3] ^ s[r + 3]) >>> 7) * 0xff;
}

// ---- shifts

// Shift kinds (i.op): element width in bits times 4 plus the direction.
export const SH_LL = 0, SH_RL = 1, SH_RA = 2;

/**
 * Shift every element of the `n` int32 words at state index `d` (4: XMM, 2: MMX) by `count` (unsigned; counts
 * beyond the width clear or sign-fill).
 */
export function shiftLanes(cpu: X86Cpu, d: number, width: number, kind: number, count: number, n: number): void {
  const s = cpu.s;
  if (width === 64) {
    for (let k = 0; k < n; k += 2) {
      let lo = s[d + k], hi = s[d + k + 1];
      if (count >= 64) { lo = 0; hi = 0; }
      else if (count >= 32) {
        if (kind === SH_LL) { hi = lo << (count - 32); lo = 0; } else { lo = hi >>> (count - 32); hi = 0; }
      } else if (count > 0) {
        if (kind === SH_LL) { hi = (hi << count) | (lo >>> (32 - count)); lo <<= count; }
        else { lo = (lo >>> count) | (hi << (32 - count)); hi >>>= count; }
      }
      s[d + k] = lo; s[d + k + 1] = hi;
    }
    return;
  }
  if (width === 32) {
    for (let k = 0; k < n; k++) {
      const v = s[d + k];
      if (kind === SH_RA) s[d + k] = v >> (count > 31 ? 31 : count);
      else if (count > 31) s[d + k] = 0;
      else s[d + k] = kind === SH_LL ? v << count : v >>> count;
    }
    return;
  }
  const u16 = cpu.u16, w = (s.byteOffset + 4 * d) >> 1;
  for (let k = 0; k < 2 * n; k++) {
    const v = u16[w + k];
    if (kind === SH_RA) u16[w + k] = ((v << 16) >> 16) >> (count > 15 ? 15 : count);
    else if (count > 15) u16[w + k] = 0;
    else u16[w + k] = kind === SH_LL ? v << count : v >>> count;
  }
}

/** PSLLW/D/Q, PSRLW/D/Q, PSRAW/D xmm, xmm/m128: the count is the source's low quadword. i.op = width*4 + kind. */
function shiftByXmm(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s;
  const r = srcA(cpu, i);
  shiftLanes(cpu, S_XMM + 4 * i.reg, i.op >> 2, i.op & 3, shiftCount(s[r], s[r + 1]), 4);
}

/** A 64-bit shift count (lo, hi) clamped to 64 (every count of 64 or more has the same effect). */
export function shiftCount(lo: number, hi: number): number {
  return hi !== 0 || lo < 0 || lo > 64 ? 64 : lo;
}

/** Groups 0F 71/72/73 with 66: shift xmm(rm) by imm8. */
function shiftByImm(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  shiftLanes(cpu, S_XMM + 4 * i.rm, i.op >> 2, i.op & 3, i.immLo, 4);
}

/** PSRLDQ / PSLLDQ xmm, imm8: byte shifts of the whole register (i.op 0 right, 1 left). */
function shiftBytes(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const u8 = cpu.u8, s = cpu.s;
  const b = s.byteOffset + 4 * (S_XMM + 4 * i.rm);
  const n = i.immLo > 16 ? 16 : i.immLo;
  if (n === 0) return;
  if (i.op === 0) {
    for (let k = 0; k < 16; k++) u8[b + k] = k + n < 16 ? u8[b + k + n] : 0;
  } else {
    for (let k = 15; k >= 0; k--) u8[b + k] = k - n >= 0 ? u8[b + k - n] : 0;
  }
}

// ---- decoding

/** Bitwise float forms: no prefix (PS) and 66 (PD). */
function decLogic(op: number): DecodeFn {
  const dec = sseDecoder([intOp, intOp, null, null]);
  return (d, i) => { i.op = op; dec(d, i); };
}

function reg66(op: number, h: Handler = intOp): DecodeFn {
  const dec = sseDecoder([null, h, null, null]);
  return (d, i) => { i.op = op; dec(d, i); };
}

// Bitwise float forms accept no prefix (PS) and 66 (PD).
MAP0F[0x54] = decLogic(I_AND);
MAP0F[0x55] = decLogic(I_ANDN);
MAP0F[0x56] = decLogic(I_OR);
MAP0F[0x57] = sseDecoder([pxor, pxor, null, null]);
MAP0F[0xef] = sseDecoder([null, pxor, null, null]);
MAP0F[0xdb] = reg66(I_AND);
MAP0F[0xdf] = reg66(I_ANDN);
MAP0F[0xeb] = reg66(I_OR);
MAP0F[0xfc] = reg66(I_ADDB);
MAP0F[0xfd] = reg66(I_ADDW);
MAP0F[0xfe] = reg66(I_ADDD);
MAP0F[0xd4] = reg66(I_ADDQ);
MAP0F[0xf8] = reg66(I_SUBB);
MAP0F[0xf9] = reg66(I_SUBW);
MAP0F[0xfa] = reg66(I_SUBD);
MAP0F[0xfb] = reg66(I_SUBQ);
MAP0F[0xec] = reg66(I_ADDSB);
MAP0F[0xed] = reg66(I_ADDSW);
MAP0F[0xdc] = reg66(I_ADDUSB);
MAP0F[0xdd] = reg66(I_ADDUSW);
MAP0F[0xe8] = reg66(I_SUBSB);
MAP0F[0xe9] = reg66(I_SUBSW);
MAP0F[0xd8] = reg66(I_SUBUSB);
MAP0F[0xd9] = reg66(I_SUBUSW);
MAP0F[0x74] = sseDecoder([null, pcmpeqb, null, null]);
MAP0F[0x75] = reg66(I_EQW);
MAP0F[0x76] = reg66(I_EQD);
MAP0F[0x64] = reg66(I_GTB);
MAP0F[0x65] = reg66(I_GTW);
MAP0F[0x66] = reg66(I_GTD);
MAP0F[0xda] = reg66(I_MINUB);
MAP0F[0xde] = reg66(I_MAXUB);
MAP0F[0xea] = reg66(I_MINSW);
MAP0F[0xee] = reg66(I_MAXSW);
MAP0F[0xd5] = reg66(I_MULLW);
MAP0F[0xe5] = reg66(I_MULHW);
MAP0F[0xe4] = reg66(I_MULHUW);
MAP0F[0xf4] = reg66(I_MULUDQ);
MAP0F[0xf5] = reg66(I_MADDWD);
MAP0F[0xf6] = reg66(I_SADBW);
MAP0F[0xe0] = reg66(I_AVGB);
MAP0F[0xe3] = reg66(I_AVGW);
// Shifts by an XMM count: op = width * 4 + kind.
MAP0F[0xf1] = reg66(16 * 4 + SH_LL, shiftByXmm);
MAP0F[0xf2] = reg66(32 * 4 + SH_LL, shiftByXmm);
MAP0F[0xf3] = reg66(64 * 4 + SH_LL, shiftByXmm);
MAP0F[0xd1] = reg66(16 * 4 + SH_RL, shiftByXmm);
MAP0F[0xd2] = reg66(32 * 4 + SH_RL, shiftByXmm);
MAP0F[0xd3] = reg66(64 * 4 + SH_RL, shiftByXmm);
MAP0F[0xe1] = reg66(16 * 4 + SH_RA, shiftByXmm);
MAP0F[0xe2] = reg66(32 * 4 + SH_RA, shiftByXmm);

/** Groups 12-14 (0F 71/72/73): only the 66-prefixed register forms with /2 /4 /6 (and /3 /7 for 73) exist here. */
function decShiftGroup(width: number): DecodeFn {
  const dec = sseDecoder([null, shiftByImm, null, null], [null, null, null, null], true);
  return (d, i) => {
    // Decode as the 66 register form, then pick the operation from /r (reading no further bytes).
    dec(d, i);
    if (i.exec !== shiftByImm) return;
    const r = i.reg & 7;
    switch (r) {
      case 2: i.op = width * 4 + SH_RL; return;
      case 4: if (width !== 64) { i.op = width * 4 + SH_RA; return; } break;
      case 6: i.op = width * 4 + SH_LL; return;
      case 3: case 7:
        if (width === 64) { i.op = r === 3 ? 0 : 1; i.exec = shiftBytes; return; }
        break;
    }
    i.exec = opUD;
    d.endBlock = true;
  };
}

MAP0F[0x71] = decShiftGroup(16);
MAP0F[0x72] = decShiftGroup(32);
MAP0F[0x73] = decShiftGroup(64);
