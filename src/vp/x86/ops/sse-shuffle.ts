// SSE/SSE2 shuffles, interleaves and packs: PSHUFD/PSHUFHW/PSHUFLW (0F 70), SHUFPS/SHUFPD (0F C6), UNPCKLPS/
// UNPCKHPS/UNPCKLPD/UNPCKHPD (0F 14/15), PUNPCKL/H BW/WD/DQ/QDQ (66 0F 60-62, 68-6A, 6C/6D), PACKSSWB/
// PACKSSDW/PACKUSWB (66 0F 63/6B/67), PINSRW/PEXTRW (66 0F C4/C5). Results are built in the scratch slot
// S_XMM_TMP2 and then copied, since the destination is also a source.
import { S_XMM } from '../state.js';
import { MAP0F, type DecodeFn } from '../decoder.js';
import type { Handler, Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';
import { copy128, S_XMM_TMP2, sseCheck, sseDecoder, srcA } from './sse-state.js';

/** PSHUFD: dword k of the result = source dword imm[2k+1:2k]. */
function pshufd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), t = S_XMM_TMP2, m = i.immLo;
  s[t] = s[r + (m & 3)]; s[t + 1] = s[r + ((m >> 2) & 3)]; s[t + 2] = s[r + ((m >> 4) & 3)]; s[t + 3] = s[r + ((m >> 6) & 3)];
  copy128(s, S_XMM + 4 * i.reg, t);
}

/** PSHUFLW (i.op 0) / PSHUFHW (i.op 1): shuffle the words of one half, copy the other half. */
function pshufw(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), t = S_XMM_TMP2, m = i.immLo;
  const u16 = cpu.u16;
  copy128(s, t, r);
  const src = ((s.byteOffset >> 1) + 2 * r) + 4 * i.op, dst = ((s.byteOffset >> 1) + 2 * t) + 4 * i.op;
  for (let k = 0; k < 4; k++) u16[dst + k] = u16[src + ((m >> (2 * k)) & 3)];
  copy128(s, S_XMM + 4 * i.reg, t);
}

/** SHUFPS: low two dwords from the destination, high two from the source. */
function shufps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), d = S_XMM + 4 * i.reg, t = S_XMM_TMP2, m = i.immLo;
  s[t] = s[d + (m & 3)]; s[t + 1] = s[d + ((m >> 2) & 3)]; s[t + 2] = s[r + ((m >> 4) & 3)]; s[t + 3] = s[r + ((m >> 6) & 3)];
  copy128(s, d, t);
}

/** SHUFPD: low qword from the destination (imm bit 0), high qword from the source (imm bit 1). */
function shufpd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), d = S_XMM + 4 * i.reg, t = S_XMM_TMP2, m = i.immLo;
  const a = d + ((m & 1) << 1), b = r + (m & 2);
  s[t] = s[a]; s[t + 1] = s[a + 1]; s[t + 2] = s[b]; s[t + 3] = s[b + 1];
  copy128(s, d, t);
}

/**
 * Interleave: i.op = element size in bytes (1, 2, 4, 8) + 16 for the high halves. Result element 2k comes from
 * the destination's element k (of the chosen half), 2k+1 from the source's.
 */
function unpack(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const r = srcA(cpu, i), d = S_XMM + 4 * i.reg;
  unpackInto(cpu, S_XMM_TMP2, d, r, i.op, 16);
  copy128(cpu.s, d, S_XMM_TMP2);
}

/**
 * The interleave of `unpack` on operands of `bytes` bytes (16: XMM, 8: MMX) at state indices d and r, written to
 * state index t (not d: the destination is also a source). op as in unpack.
 */
export function unpackInto(cpu: X86Cpu, t: number, d: number, r: number, op: number, bytes: number): void {
  const size = op & 15, high = (op & 16) !== 0 ? bytes >> 1 : 0;
  const u8 = cpu.u8, bo = cpu.s.byteOffset;
  const bd = bo + 4 * d + high, br = bo + 4 * r + high, bt = bo + 4 * t;
  for (let k = 0, o = 0; o < bytes; k += size, o += 2 * size) {
    for (let j = 0; j < size; j++) { u8[bt + o + j] = u8[bd + k + j]; u8[bt + o + size + j] = u8[br + k + j]; }
  }
}

function satU8(v: number): number { return v > 255 ? 255 : v < 0 ? 0 : v; }

/** PACKSSWB (op 0), PACKUSWB (op 1), PACKSSDW (op 2): destination elements first, then the source's. */
function pack(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const r = srcA(cpu, i), d = S_XMM + 4 * i.reg;
  packInto(cpu, S_XMM_TMP2, d, r, i.op, 4);
  copy128(cpu.s, d, S_XMM_TMP2);
}

/** The saturating pack of `pack` on `n` int32 words (4: XMM, 2: MMX) at d and r, written to state index t. */
export function packInto(cpu: X86Cpu, t: number, d: number, r: number, op: number, n: number): void {
  const s = cpu.s, u8 = cpu.u8, u16 = cpu.u16, bo = s.byteOffset;
  if (op === 2) {
    const wt = (bo >> 1) + 2 * t;
    for (let k = 0; k < n; k++) {
      const a = s[d + k], b = s[r + k];
      u16[wt + k] = a > 32767 ? 32767 : a < -32768 ? -32768 : a;
      u16[wt + n + k] = b > 32767 ? 32767 : b < -32768 ? -32768 : b;
    }
  } else {
    const wd = (bo >> 1) + 2 * d, wr = (bo >> 1) + 2 * r, bt = bo + 4 * t, h = 2 * n;
    for (let k = 0; k < h; k++) {
      const a = (u16[wd + k] << 16) >> 16, b = (u16[wr + k] << 16) >> 16;
      if (op === 0) {
        u8[bt + k] = a > 127 ? 127 : a < -128 ? -128 : a;
        u8[bt + h + k] = b > 127 ? 127 : b < -128 ? -128 : b;
      } else {
        u8[bt + k] = satU8(a);
        u8[bt + h + k] = satU8(b);
      }
    }
  }
}

/** PINSRW xmm, r32/m16, imm8. */
function pinsrw(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s;
  let v: number;
  if (i.rm >= 0) v = s[2 * i.rm];
  else { ea(cpu, i); v = cpu.read16(cpu.eaLo, cpu.eaHi); }
  cpu.u16[((s.byteOffset >> 1) + 2 * (S_XMM + 4 * i.reg)) + (i.immLo & 7)] = v;
}

/** PEXTRW r32, xmm, imm8: zero-extended into the whole 64-bit register. */
function pextrw(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s;
  s[2 * i.reg] = cpu.u16[((s.byteOffset >> 1) + 2 * (S_XMM + 4 * i.rm)) + (i.immLo & 7)];
  s[2 * i.reg + 1] = 0;
}

function withOp(op: number, dec: DecodeFn): DecodeFn {
  return (d, i) => { i.op = op; dec(d, i); };
}

function only66(h: Handler, op: number): DecodeFn {
  return withOp(op, sseDecoder([null, h, null, null]));
}

const N = null;
{
  const dec = sseDecoder([N, pshufd, pshufw, pshufw], [N, pshufd, pshufw, pshufw], true);
  // PSHUFLW (F2) works on the low words (op 0), PSHUFHW (F3) on the high words (op 1).
  MAP0F[0x70] = (d, i) => { dec(d, i); i.op = i.pfx === 2 ? 1 : 0; };
}
MAP0F[0xc6] = sseDecoder([shufps, shufpd, N, N], [shufps, shufpd, N, N], true);
{
  const lo = sseDecoder([unpack, unpack, N, N]), hi = sseDecoder([unpack, unpack, N, N]);
  MAP0F[0x14] = (d, i) => { lo(d, i); i.op = i.pfx === 1 ? 8 : 4; };
  MAP0F[0x15] = (d, i) => { hi(d, i); i.op = (i.pfx === 1 ? 8 : 4) + 16; };
}
MAP0F[0x60] = only66(unpack, 1);
MAP0F[0x61] = only66(unpack, 2);
MAP0F[0x62] = only66(unpack, 4);
MAP0F[0x6c] = only66(unpack, 8);
MAP0F[0x68] = only66(unpack, 1 + 16);
MAP0F[0x69] = only66(unpack, 2 + 16);
MAP0F[0x6a] = only66(unpack, 4 + 16);
MAP0F[0x6d] = only66(unpack, 8 + 16);
MAP0F[0x63] = only66(pack, 0);
MAP0F[0x67] = only66(pack, 1);
MAP0F[0x6b] = only66(pack, 2);
MAP0F[0xc4] = sseDecoder([N, pinsrw, N, N], [N, pinsrw, N, N], true);
MAP0F[0xc5] = sseDecoder([N, pextrw, N, N], [N, N, N, N], true);
