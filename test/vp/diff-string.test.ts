// Differential tests (host CPU vs the VP) for the string group (ops/string.ts): MOVS, STOS, LODS, CMPS, SCAS in
// every size, without and with REP / REPE / REPNE (F3 / F2; F2 on the non-comparing ones acts as REP), DF=0/1
// (random per case unless a form fixes it), 64- and 32-bit address size (67: ESI/EDI/ECX, upper halves junk),
// counts 0, 1, 2, small, up to a few hundred elements, and for REPE/REPNE huge counts that the data stops.
// The 8 KiB window spans two pages, so runs cross a page boundary (the VP's copyWithin/fill fast paths work per
// page) and elements straddle it. Overlapping moves (destination a few bytes above/below the source) check the
// element-by-element semantics the fast path must keep. CMPS/SCAS define all six flags, so all are compared.
//
// INS/OUTS need I/O privilege the host test process does not have; test/vp/string-machine.test.ts covers them.
import { DATA, DF, diffSuite, printTotals, type DiffForm, type Rng } from '../support/diff/diff.js';

type Size = 1 | 2 | 4 | 8;
const SIZES: Size[] = [1, 2, 4, 8];
const SUFFIX: Record<Size, string> = { 1: 'b', 2: 'w', 4: 'd', 8: 'q' };
const WINDOW = 0x2000;
const PAGE2 = DATA + 0x1000;
/** Bytes any run may cover, so every access stays inside the window whatever DF is. */
const SPAN = 0x300;

const forms: DiffForm[] = [];
const add = (f: DiffForm): void => { forms.push(f); };

/** A count of elements: 0, 1, 2, 3, small, up to SPAN bytes. */
function count(r: Rng, e: number): number {
  const max = SPAN / e;
  switch (r.below(8)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2;
    case 3: return 3;
    case 4: return r.below(17);
    case 5: return max;
    default: return r.below(max + 1);
  }
}

/** 64-bit register value for a 32-bit address-size form: junk in the upper half. */
const junkHi = (r: Rng, low: number): bigint => (BigInt(r.u32()) << 32n) | BigInt(low >>> 0);

/** Source in the first page, destination around the page boundary: runs in both directions stay in the window. */
const srcAddr = (r: Rng): number => DATA + 0x400 + r.below(0x600);
const dstAddr = (r: Rng): number => PAGE2 - 0x600 + r.below(0xc00);

// ---- MOVS
for (const e of SIZES) {
  const m = `movs${SUFFIX[e]}`;
  const init = { rsi: (r: Rng) => srcAddr(r), rdi: (r: Rng) => dstAddr(r), rcx: (r: Rng) => count(r, e) };
  add({ asm: m, init });
  add({ asm: `rep ${m}`, init });
  add({ asm: `.byte 0xf2; ${m}`, name: `F2 ${m} (REPNE prefix acts as REP)`, init });
  add({ asm: `.byte 0x2e; ${m}`, name: `cs ${m} (override ignored in 64-bit mode)`, init });
  add({
    asm: `.byte 0x67; rep ${m}`, name: `addr32 rep ${m}`,
    init: { rsi: (r: Rng) => junkHi(r, srcAddr(r)), rdi: (r: Rng) => junkHi(r, dstAddr(r)), rcx: (r: Rng) => junkHi(r, count(r, e)) },
  });
  // Overlapping: destination N bytes from the source, both directions (DF random).
  for (const delta of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, -1, -2, -4, -7, -8, -9, -16]) {
    add({
      asm: `lea rdi, [rsi${delta < 0 ? '-' : '+'}${Math.abs(delta)}]; rep ${m}`,
      init: { rsi: (r: Rng) => dstAddr(r), rcx: (r: Rng) => count(r, e) },
    });
  }
}

// ---- STOS, LODS
for (const e of SIZES) {
  const st = `stos${SUFFIX[e]}`, ld = `lods${SUFFIX[e]}`;
  add({ asm: st, init: { rdi: (r: Rng) => dstAddr(r) } });
  add({ asm: `rep ${st}`, init: { rdi: (r: Rng) => dstAddr(r), rcx: (r: Rng) => count(r, e) } });
  add({ asm: `rep ${st}`, name: `rep ${st} (unaligned, across the page)`, init: { rdi: (r: Rng) => PAGE2 - 0x41 + r.below(0x80), rcx: (r: Rng) => count(r, e) } });
  add({
    asm: `.byte 0x67; rep ${st}`, name: `addr32 rep ${st}`,
    init: { rdi: (r: Rng) => junkHi(r, dstAddr(r)), rcx: (r: Rng) => junkHi(r, count(r, e)) },
  });
  add({ asm: ld, init: { rsi: (r: Rng) => dstAddr(r) } });
  add({ asm: `rep ${ld}`, init: { rsi: (r: Rng) => dstAddr(r), rcx: (r: Rng) => count(r, e) } });
  add({
    asm: `.byte 0x67; ${ld}`, name: `addr32 ${ld}`,
    init: { rsi: (r: Rng) => junkHi(r, dstAddr(r)) },
  });
}

// ---- CMPS, SCAS
// The comparing forms get regions laid out by the form (DF fixed per form) so the data decides where REPE/REPNE
// stop: elements come from a small alphabet, the far end holds one equal and one unequal element, so even a
// huge count stops inside the region.
interface Region { lo: number; n: number }
const A: Region = { lo: DATA + 0x400, n: 0 };
const B: Region = { lo: PAGE2 - 0x180, n: 0 };

function elemAt(m: Uint8Array, off: number, e: number, v: number): void {
  for (let k = 0; k < e; k++) m[off + k] = k === 0 ? v : 0;
}

/** First element's address for a region of n elements walked up (DF=0) or down (DF=1). */
const first = (g: Region, e: number, n: number, down: boolean, skew: number): number => g.lo + skew + (down ? (n - 1) * e : 0);

function rcxRep(r: Rng, n: number, a32: boolean): bigint {
  const c = r.pick([0, 1, 2, r.below(n + 1), n, -1, -1]);
  if (c >= 0) return a32 ? junkHi(r, c) : BigInt(c);
  // huge: the data stops it (with 67 only ECX counts: 0xffffffff)
  return a32 ? 0xdead0000ffffffffn : r.pick([0xffffffffffffffffn, 0x100000005n, 0x8000000000000000n]);
}

for (const e of SIZES) {
  const n = SPAN / e;
  const cm = `cmps${SUFFIX[e]}`, sc = `scas${SUFFIX[e]}`;
  // Unprefixed: random data and addresses (flags from edge values).
  add({ asm: cm, init: { rsi: (r: Rng) => srcAddr(r), rdi: (r: Rng) => dstAddr(r) } });
  add({ asm: sc, init: { rdi: (r: Rng) => dstAddr(r) } });
  for (const rep of ['repe', 'repne']) {
    for (const down of [false, true]) {
      for (const a32 of [false, true]) {
        if (a32 && down) continue;
        const skewA = e === 1 ? 0 : 1, skewB = e === 8 ? 3 : 0; // unaligned elements too
        const hi = a32 ? (r: Rng, v: number): bigint => junkHi(r, v) : (_r: Rng, v: number): bigint => BigInt(v);
        const flags = (r: Rng): number => (r.u32() & ~DF) | (down ? DF : 0);
        const pre = a32 ? '.byte 0x67; ' : '';
        const tag = `${a32 ? 'addr32 ' : ''}${rep} ${down ? '(DF=1)' : '(DF=0)'}`;
        // CMPS: B is A with some elements changed (REPE) or A with most elements changed (REPNE).
        const pDiff = rep === 'repe' ? 8 : 2;
        add({
          asm: `${pre}${rep} ${cm}`, name: `${tag} ${cm}`, flags,
          init: {
            rsi: (r: Rng) => hi(r, first(A, e, n, down, skewA)),
            rdi: (r: Rng) => hi(r, first(B, e, n, down, skewB)),
            rcx: (r: Rng) => rcxRep(r, n, a32),
          },
          mem: (r, m) => {
            const a = A.lo + skewA - DATA, b = B.lo + skewB - DATA;
            for (let j = 0; j < n; j++) {
              const v = r.below(3);
              elemAt(m, a + j * e, e, v);
              elemAt(m, b + j * e, e, r.below(pDiff) === 0 ? v ^ (1 + r.below(2)) : v);
              if (e > 1 && r.below(16) === 0) m[b + j * e + e - 1] ^= 0x80; // a difference in the top byte
            }
            const far = down ? 0 : n - 1, next = down ? 1 : n - 2;
            elemAt(m, a + far * e, e, 1); elemAt(m, b + far * e, e, 2); // unequal
            elemAt(m, a + next * e, e, 1); elemAt(m, b + next * e, e, 1); // equal
          },
        });
        // SCAS: AL/AX/EAX/RAX in {0, 1} (junk above the element), memory mostly 0.
        add({
          asm: `${pre}${rep} ${sc}`, name: `${tag} ${sc}`, flags,
          init: {
            rax: (r: Rng) => (e === 8 ? BigInt(r.below(2)) : ((r.u64() >> BigInt(8 * e)) << BigInt(8 * e)) | BigInt(r.below(2))),
            rdi: (r: Rng) => hi(r, first(B, e, n, down, skewB)),
            rcx: (r: Rng) => rcxRep(r, n, a32),
          },
          mem: (r, m) => {
            const b = B.lo + skewB - DATA;
            for (let j = 0; j < n; j++) elemAt(m, b + j * e, e, r.below(6) === 0 ? 1 : 0);
            const far = down ? 0 : n - 1, next = down ? 1 : n - 2;
            elemAt(m, b + far * e, e, 1); elemAt(m, b + next * e, e, 0);
          },
        });
      }
    }
  }
}

// ---- LOCK is #UD on string instructions
add({ asm: '.byte 0xf0; movsb', name: 'lock movsb (#UD)', ud: true, allFault: true, init: { rsi: BigInt(DATA + 0x400), rdi: BigInt(DATA + 0x800) } });
add({ asm: '.byte 0xf0; rep stosq', name: 'lock rep stosq (#UD)', ud: true, allFault: true, init: { rdi: BigInt(DATA + 0x800), rcx: 3n } });

diffSuite('string', forms, { window: WINDOW });
printTotals('diff-string');
