// String instructions: MOVS (A4/A5), CMPS (A6/A7), STOS (AA/AB), LODS (AC/AD), SCAS (AE/AF), INS (6C/6D),
// OUTS (6E/6F), with REP (F3; F2 acts as REP for the non-comparing ones) and REPE/REPNE (F3/F2) for CMPS/SCAS.
//
// Operands: the source is seg:rSI (DS unless overridden; only FS/GS add a base in 64-bit mode), the destination
// ES:rDI (no override). The address size picks RSI/RDI/RCX (64), ESI/EDI/ECX (67 prefix: 32-bit, writes zero
// the upper halves) or SI/DI/CX (16-bit addressing in compatibility mode). DF=1 walks downwards.
//
// REP loops are interruptible and restartable: one handler call performs at most REP_BUDGET iterations; if the
// count is not exhausted it points the next RIP back at the instruction and ends the block, so pending
// interrupts are taken between chunks. Registers advance only after an iteration's memory accesses succeeded,
// so a fault in iteration k leaves rSI/rDI/rCX showing exactly the k completed iterations.
//
// Fast paths: REP MOVS and REP STOS move whole runs that stay within one page of the source and of the
// destination with typed-array copyWithin/fill through cpu.hostOffset. Runs are only taken in RAM pages the
// TLB can give a host offset for; writes to pages with decoded code (and MMIO) take the per-element path,
// which invalidates code / reaches the platform. Overlapping moves keep the element-by-element semantics (a
// forward move with the destination a little above the source replicates the pattern, as the hardware does).
// REPE/REPNE CMPSB and SCASB scan in-page runs of host memory the same way.
import { EXC_GP, FLAG_DF, FLAG_IOPL, RAX, RCX, RDI, RDX, RSI, SEG_FS, SEG_GS } from '../constants.js';
import { lazyZF, LZ_SUB } from '../flags.js';
import { S_LZ_DST, S_LZ_OP, S_LZ_RES, S_LZ_SIZE, S_LZ_SRC, S_RFLAGS, S_SEG_BASE } from '../state.js';
import { MAP1, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import { ACC_READ, ACC_WRITE, type X86Cpu } from '../cpu.js';
import { getReg, setReg } from '../operands.js';

/** Iterations per handler call before a REP instruction yields (interrupt latency vs. per-call overhead). */
export const REP_BUDGET = 16384;

/** Linear address computed by srcAddr/dstAddr. */
let aLo = 0;
let aHi = 0;

/** seg:rSI for the instruction's address size. */
function srcAddr(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  let lo = s[2 * RSI], hi = 0;
  if (i.asize === 8) hi = s[2 * RSI + 1];
  else if (i.asize === 2) lo &= 0xffff;
  const seg = i.seg;
  if (seg === SEG_FS || seg === SEG_GS) {
    const t = (lo >>> 0) + (s[S_SEG_BASE + 2 * seg] >>> 0);
    lo = t | 0;
    hi = cpu.mode64 ? (hi + s[S_SEG_BASE + 2 * seg + 1] + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  }
  aLo = lo;
  aHi = hi;
}

/** ES:rDI (ES has no base in 64-bit mode; compatibility mode models flat segments). */
function dstAddr(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  let lo = s[2 * RDI], hi = 0;
  if (i.asize === 8) hi = s[2 * RDI + 1];
  else if (i.asize === 2) lo &= 0xffff;
  aLo = lo;
  aHi = hi;
}

/** Add a small signed delta to register r in the given address size. */
function advance(s: Int32Array, r: number, asize: number, delta: number): void {
  const k = 2 * r;
  if (asize === 8) {
    const t = (s[k] >>> 0) + delta;
    s[k] = t | 0;
    if (t < 0) s[k + 1] = (s[k + 1] - 1) | 0;
    else if (t > 0xffffffff) s[k + 1] = (s[k + 1] + 1) | 0;
  } else if (asize === 4) {
    s[k] = (s[k] + delta) | 0;
    s[k + 1] = 0;
  } else {
    s[k] = (s[k] & ~0xffff) | ((s[k] + delta) & 0xffff);
  }
}

/** The count register as a number, capped at 2^32 (more than any one handler call uses). */
function count(s: Int32Array, asize: number): number {
  if (asize === 8) return s[2 * RCX + 1] !== 0 ? 4294967296 : s[2 * RCX] >>> 0;
  if (asize === 4) return s[2 * RCX] >>> 0;
  return s[2 * RCX] & 0xffff;
}

/** Point the next RIP back at this instruction and end the block: the REP continues on the next run. */
function restart(cpu: X86Cpu, i: Insn): void {
  const l = (cpu.blockLo + i.start) | 0;
  cpu.nipLo = l;
  cpu.nipHi = cpu.mode64 && (l >>> 0) < (cpu.blockLo >>> 0) ? (cpu.blockHi + 1) | 0 : cpu.blockHi;
  cpu.stopBlock = true;
}

function stepOf(cpu: X86Cpu, i: Insn): number {
  return (cpu.s[S_RFLAGS] & FLAG_DF) !== 0 ? -i.size : i.size;
}

/** Record CMP flags (a - b) lazily. */
function recordCmp(s: Int32Array, size: number, a: number, aH: number, b: number, bH: number): void {
  const t = (a >>> 0) - (b >>> 0);
  s[S_LZ_OP] = LZ_SUB;
  s[S_LZ_SIZE] = size;
  s[S_LZ_DST] = a; s[S_LZ_DST + 1] = aH;
  s[S_LZ_SRC] = b; s[S_LZ_SRC + 1] = bH;
  s[S_LZ_RES] = t | 0;
  s[S_LZ_RES + 1] = size === 8 ? (aH - bH - (t < 0 ? 1 : 0)) | 0 : 0;
}

function readAt(cpu: X86Cpu, size: number, lo: number, hi: number): number {
  switch (size) {
    case 1: return cpu.read8(lo, hi);
    case 2: return cpu.read16(lo, hi);
    case 4: return cpu.read32(lo, hi);
    default: return cpu.read64(lo, hi);
  }
}

function writeAt(cpu: X86Cpu, size: number, lo: number, hi: number, v: number, vHi: number): void {
  switch (size) {
    case 1: cpu.write8(lo, hi, v); return;
    case 2: cpu.write16(lo, hi, v); return;
    case 4: cpu.write32(lo, hi, v); return;
    default: cpu.write64(lo, hi, v, vHi); return;
  }
}

// ---------------------------------------------------------------- one iteration of each instruction

type One = (cpu: X86Cpu, i: Insn, step: number) => void;

function movsOne(cpu: X86Cpu, i: Insn, step: number): void {
  const size = i.size;
  srcAddr(cpu, i);
  const v = readAt(cpu, size, aLo, aHi), vHi = cpu.rdHi;
  dstAddr(cpu, i);
  writeAt(cpu, size, aLo, aHi, v, vHi);
  const s = cpu.s;
  advance(s, RSI, i.asize, step);
  advance(s, RDI, i.asize, step);
}

function stosOne(cpu: X86Cpu, i: Insn, step: number): void {
  const s = cpu.s, size = i.size;
  dstAddr(cpu, i);
  writeAt(cpu, size, aLo, aHi, getReg(s, size, RAX), s[2 * RAX + 1]);
  advance(s, RDI, i.asize, step);
}

function lodsOne(cpu: X86Cpu, i: Insn, step: number): void {
  const s = cpu.s, size = i.size;
  srcAddr(cpu, i);
  const v = readAt(cpu, size, aLo, aHi);
  setReg(s, size, RAX, v, cpu.rdHi);
  advance(s, RSI, i.asize, step);
}

function cmpsOne(cpu: X86Cpu, i: Insn, step: number): void {
  const s = cpu.s, size = i.size;
  srcAddr(cpu, i);
  const a = readAt(cpu, size, aLo, aHi), aH = size === 8 ? cpu.rdHi : 0;
  dstAddr(cpu, i);
  const b = readAt(cpu, size, aLo, aHi), bH = size === 8 ? cpu.rdHi : 0;
  recordCmp(s, size, a, aH, b, bH);
  advance(s, RSI, i.asize, step);
  advance(s, RDI, i.asize, step);
}

function scasOne(cpu: X86Cpu, i: Insn, step: number): void {
  const s = cpu.s, size = i.size;
  dstAddr(cpu, i);
  const b = readAt(cpu, size, aLo, aHi), bH = size === 8 ? cpu.rdHi : 0;
  recordCmp(s, size, getReg(s, size, RAX), size === 8 ? s[2 * RAX + 1] : 0, b, bH);
  advance(s, RDI, i.asize, step);
}

/** Port I/O from string instructions: allowed at CPL <= IOPL (no TSS I/O bitmap, as IN/OUT in system.ts). */
function ioAllowed(cpu: X86Cpu): void {
  if (cpu.cpl > ((cpu.s[S_RFLAGS] & FLAG_IOPL) >> 12)) cpu.fault(EXC_GP, 0);
}

function insOne(cpu: X86Cpu, i: Insn, step: number): void {
  const s = cpu.s, size = i.size;
  dstAddr(cpu, i);
  cpu.probeWrite(aLo, aHi, size); // a faulting store must not consume the port's data
  const v = cpu.platform.ioRead(s[2 * RDX] & 0xffff, size);
  writeAt(cpu, size, aLo, aHi, v, 0);
  advance(s, RDI, i.asize, step);
}

function outsOne(cpu: X86Cpu, i: Insn, step: number): void {
  const s = cpu.s, size = i.size;
  srcAddr(cpu, i);
  const v = readAt(cpu, size, aLo, aHi);
  cpu.platform.ioWrite(s[2 * RDX] & 0xffff, size, v);
  advance(s, RSI, i.asize, step);
}

// ---------------------------------------------------------------- handlers

function movs(cpu: X86Cpu, i: Insn): void { movsOne(cpu, i, stepOf(cpu, i)); }
function stos(cpu: X86Cpu, i: Insn): void { stosOne(cpu, i, stepOf(cpu, i)); }
function lods(cpu: X86Cpu, i: Insn): void { lodsOne(cpu, i, stepOf(cpu, i)); }
function cmps(cpu: X86Cpu, i: Insn): void { cmpsOne(cpu, i, stepOf(cpu, i)); }
function scas(cpu: X86Cpu, i: Insn): void { scasOne(cpu, i, stepOf(cpu, i)); }
function ins(cpu: X86Cpu, i: Insn): void { ioAllowed(cpu); insOne(cpu, i, stepOf(cpu, i)); }
function outs(cpu: X86Cpu, i: Insn): void { ioAllowed(cpu); outsOne(cpu, i, stepOf(cpu, i)); }

/**
 * The element-by-element REP loop. `cond`: 0 plain REP, 1 REPE (stop when ZF=0), 2 REPNE (stop when ZF=1);
 * the count is tested before each iteration, the condition after it.
 */
function repLoop(cpu: X86Cpu, i: Insn, one: One, cond: number): void {
  const s = cpu.s, as = i.asize, step = stepOf(cpu, i);
  for (let budget = REP_BUDGET; ; budget--) {
    if (count(s, as) === 0) return;
    if (budget === 0) { restart(cpu, i); return; }
    one(cpu, i, step);
    advance(s, RCX, as, -1);
    if (cond !== 0 && lazyZF(s) === (cond === 2)) return;
  }
}

function repLods(cpu: X86Cpu, i: Insn): void { repLoop(cpu, i, lodsOne, 0); }
function repCmps(cpu: X86Cpu, i: Insn): void { repLoop(cpu, i, cmpsOne, i.rep); }
function repScas(cpu: X86Cpu, i: Insn): void { repLoop(cpu, i, scasOne, i.rep); }
function repIns(cpu: X86Cpu, i: Insn): void { ioAllowed(cpu); repLoop(cpu, i, insOne, 0); }
function repOuts(cpu: X86Cpu, i: Insn): void { ioAllowed(cpu); repLoop(cpu, i, outsOne, 0); }

/**
 * Elements of size e, starting at linear address lo and walking up (or down), that fit in lo's page, capped at n.
 * 0 when the first element straddles the page end (the per-element path handles it).
 */
function pageRoom(lo: number, e: number, down: boolean, n: number): number {
  const off = lo & 0xfff;
  let r: number;
  if (!down) r = ((4096 - off) / e) | 0;
  else r = off + e <= 4096 ? ((off / e) | 0) + 1 : 0;
  return r < n ? r : n;
}

/** With 32/16-bit addressing the register wraps; keep a run from crossing the wrap (matters only with a base). */
function wrapRoom(reg: number, asize: number, e: number, down: boolean, n: number): number {
  const lim = asize === 4 ? 4294967296 : 65536;
  const off = asize === 4 ? reg >>> 0 : reg & 0xffff;
  let r: number;
  if (!down) r = Math.floor((lim - off) / e);
  else r = off + e <= lim ? Math.floor(off / e) + 1 : 0;
  return r < n ? r : n;
}

/**
 * Copy n*e bytes from host offset hs to hd with the semantics of element-by-element moves (forward from the
 * lowest element, or backward from the highest when `down`; hs/hd are the first element's offsets). When the
 * destination lies less than the run ahead of the source in the walking direction, later elements read what
 * earlier ones wrote: copy in pieces no longer than that distance (whole elements), each one after the other.
 */
function copyRun(u8: Uint8Array, hs: number, hd: number, bytes: number, e: number, down: boolean): void {
  if (!down) {
    const d = hd - hs;
    if (d <= 0 || d >= bytes) { u8.copyWithin(hd, hs, hs + bytes); return; }
    if (d % e === 0) {
      // Every element reads what the element d bytes before wrote: the result repeats the first d source
      // bytes (the "memset by overlapping move" idiom). Copy them, then double the repeated prefix.
      u8.copyWithin(hd, hs, hs + d);
      for (let done = d; done < bytes;) {
        const c = done < bytes - done ? done : bytes - done;
        u8.copyWithin(hd + done, hd, hd + c);
        done += c;
      }
      return;
    }
    const p = d < e ? e : d - (d % e);
    for (let o = 0; o < bytes; o += p) u8.copyWithin(hd + o, hs + o, hs + (o + p < bytes ? o + p : bytes));
    return;
  }
  const sL = hs - bytes + e, dL = hd - bytes + e;
  const d = sL - dL;
  if (d <= 0 || d >= bytes) { u8.copyWithin(dL, sL, sL + bytes); return; }
  if (d % e === 0) {
    // The mirror image: the top d source bytes repeat downwards.
    u8.copyWithin(dL + bytes - d, sL + bytes - d, sL + bytes);
    for (let done = d; done < bytes;) {
      const c = done < bytes - done ? done : bytes - done;
      u8.copyWithin(dL + bytes - done - c, dL + bytes - c, dL + bytes);
      done += c;
    }
    return;
  }
  const p = d < e ? e : d - (d % e);
  for (let end = bytes; end > 0; end -= p) {
    const st = end > p ? end - p : 0;
    u8.copyWithin(dL + st, sL + st, sL + end);
  }
}

/** Fill n elements of size e at host offset h (the lowest element) with the value (lo, hi). */
function fillRun(cpu: X86Cpu, h: number, n: number, e: number, lo: number, hi: number): void {
  const u8 = cpu.u8;
  if (e === 1) { u8.fill(lo, h, h + n); return; }
  if (e === 2 && (h & 1) === 0) { cpu.u16.fill(lo, h >> 1, (h >> 1) + n); return; }
  if ((h & 3) === 0 && (e === 4 || lo === hi)) { cpu.i32.fill(lo, h >> 2, (h >> 2) + (n * e >> 2)); return; }
  // Unaligned, or a 64-bit value with different halves: write one element, then double the filled prefix.
  for (let k = 0; k < e; k++) u8[h + k] = k < 4 ? lo >> (8 * k) : hi >> (8 * (k - 4));
  const total = n * e;
  for (let done = e; done < total;) {
    const c = done < total - done ? done : total - done;
    u8.copyWithin(h + done, h, h + c);
    done += c;
  }
}

function repMovs(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, as = i.asize, e = i.size;
  const down = (s[S_RFLAGS] & FLAG_DF) !== 0;
  const step = down ? -e : e;
  let budget = REP_BUDGET;
  for (;;) {
    let n = count(s, as);
    if (n === 0) return;
    if (budget === 0) { restart(cpu, i); return; }
    if (n > budget) n = budget;
    srcAddr(cpu, i);
    const sl = aLo, sh = aHi;
    dstAddr(cpu, i);
    const dl = aLo, dh = aHi;
    n = pageRoom(dl, e, down, pageRoom(sl, e, down, n));
    if (as !== 8) n = wrapRoom(s[2 * RDI], as, e, down, wrapRoom(s[2 * RSI], as, e, down, n));
    if (n > 0) {
      // Translating the source first, then the destination, faults in the order one iteration would.
      const hs = cpu.hostOffset(sl, sh, ACC_READ);
      const hd = hs >= 0 ? cpu.hostOffset(dl, dh, ACC_WRITE) : -1;
      if (hd >= 0) {
        copyRun(cpu.u8, hs, hd, n * e, e, down);
        advance(s, RSI, as, n * step);
        advance(s, RDI, as, n * step);
        advance(s, RCX, as, -n);
        budget -= n;
        continue;
      }
    } else n = 1;
    // MMIO, a code page, or an element straddling a page: per element for this run.
    for (let k = 0; k < n; k++) {
      movsOne(cpu, i, step);
      advance(s, RCX, as, -1);
    }
    budget -= n;
  }
}

function repStos(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, as = i.asize, e = i.size;
  const down = (s[S_RFLAGS] & FLAG_DF) !== 0;
  const step = down ? -e : e;
  const vLo = getReg(s, e, RAX), vHi = s[2 * RAX + 1];
  let budget = REP_BUDGET;
  for (;;) {
    let n = count(s, as);
    if (n === 0) return;
    if (budget === 0) { restart(cpu, i); return; }
    if (n > budget) n = budget;
    dstAddr(cpu, i);
    const dl = aLo, dh = aHi;
    n = pageRoom(dl, e, down, n);
    if (as !== 8) n = wrapRoom(s[2 * RDI], as, e, down, n);
    if (n > 0) {
      const hd = cpu.hostOffset(dl, dh, ACC_WRITE);
      if (hd >= 0) {
        fillRun(cpu, down ? hd - (n - 1) * e : hd, n, e, vLo, vHi);
        advance(s, RDI, as, n * step);
        advance(s, RCX, as, -n);
        budget -= n;
        continue;
      }
    } else n = 1;
    for (let k = 0; k < n; k++) {
      stosOne(cpu, i, step);
      advance(s, RCX, as, -1);
    }
    budget -= n;
  }
}

/**
 * REPE/REPNE SCASB and CMPSB (the strlen/memchr/memcmp idioms) scan whole in-page runs in host memory: find the
 * first iteration whose comparison ends the loop, then account for exactly the iterations performed (flags from
 * the last comparison). Runs that are not plain RAM, or cross a page, go element by element.
 */
function repScasB(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, as = i.asize;
  const down = (s[S_RFLAGS] & FLAG_DF) !== 0;
  const step = down ? -1 : 1;
  const stopOnEqual = i.rep === 2;
  const al = s[2 * RAX] & 0xff;
  const u8 = cpu.u8;
  let budget = REP_BUDGET;
  for (;;) {
    let n = count(s, as);
    if (n === 0) return;
    if (budget === 0) { restart(cpu, i); return; }
    if (n > budget) n = budget;
    dstAddr(cpu, i);
    n = pageRoom(aLo, 1, down, n);
    if (as !== 8) n = wrapRoom(s[2 * RDI], as, 1, down, n);
    const h = cpu.hostOffset(aLo, aHi, ACC_READ);
    if (h < 0) {
      scasOne(cpu, i, step);
      advance(s, RCX, as, -1);
      budget--;
      if (lazyZF(s) === stopOnEqual) return;
      continue;
    }
    let j = 0, x = h;
    while (j < n - 1 && (u8[x] === al) !== stopOnEqual) { j++; x += step; }
    recordCmp(s, 1, al, 0, u8[x], 0);
    advance(s, RDI, as, (j + 1) * step);
    advance(s, RCX, as, -(j + 1));
    budget -= j + 1;
    if ((u8[x] === al) === stopOnEqual) return;
  }
}

function repCmpsB(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, as = i.asize;
  const down = (s[S_RFLAGS] & FLAG_DF) !== 0;
  const step = down ? -1 : 1;
  const stopOnEqual = i.rep === 2;
  const u8 = cpu.u8;
  let budget = REP_BUDGET;
  for (;;) {
    let n = count(s, as);
    if (n === 0) return;
    if (budget === 0) { restart(cpu, i); return; }
    if (n > budget) n = budget;
    srcAddr(cpu, i);
    const sl = aLo, sh = aHi;
    dstAddr(cpu, i);
    const dl = aLo, dh = aHi;
    n = pageRoom(dl, 1, down, pageRoom(sl, 1, down, n));
    if (as !== 8) n = wrapRoom(s[2 * RDI], as, 1, down, wrapRoom(s[2 * RSI], as, 1, down, n));
    const hs = cpu.hostOffset(sl, sh, ACC_READ);
    const hd = hs >= 0 ? cpu.hostOffset(dl, dh, ACC_READ) : -1;
    if (hd < 0) {
      cmpsOne(cpu, i, step);
      advance(s, RCX, as, -1);
      budget--;
      if (lazyZF(s) === stopOnEqual) return;
      continue;
    }
    let j = 0, xs = hs, xd = hd;
    while (j < n - 1 && (u8[xs] === u8[xd]) !== stopOnEqual) { j++; xs += step; xd += step; }
    recordCmp(s, 1, u8[xs], 0, u8[xd], 0);
    advance(s, RSI, as, (j + 1) * step);
    advance(s, RDI, as, (j + 1) * step);
    advance(s, RCX, as, -(j + 1));
    budget -= j + 1;
    if ((u8[xs] === u8[xd]) === stopOnEqual) return;
  }
}

// ---------------------------------------------------------------- decoding

function decString(_d: Decoder, i: Insn): void {
  const op = i.opcode;
  if ((op & 1) === 0) i.size = 1;
  const rep = i.rep !== 0;
  switch (op & ~1) {
    case 0xa4: i.exec = rep ? repMovs : movs; return;
    case 0xa6: i.exec = !rep ? cmps : i.size === 1 ? repCmpsB : repCmps; return;
    case 0xaa: i.exec = rep ? repStos : stos; return;
    case 0xac: i.exec = rep ? repLods : lods; return;
    case 0xae: i.exec = !rep ? scas : i.size === 1 ? repScasB : repScas; return;
  }
}

/** INS/OUTS: port DX, 8/16/32-bit (REX.W does not widen port I/O). */
function decStringIo(_d: Decoder, i: Insn): void {
  const op = i.opcode;
  if ((op & 1) === 0) i.size = 1;
  else if (i.size === 8) i.size = 4;
  const rep = i.rep !== 0;
  if (op < 0x6e) i.exec = rep ? repIns : ins;
  else i.exec = rep ? repOuts : outs;
}

for (const op of [0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf]) MAP1[op] = decString;
for (const op of [0x6c, 0x6d, 0x6e, 0x6f]) MAP1[op] = decStringIo;
