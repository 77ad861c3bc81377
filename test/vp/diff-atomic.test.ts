// Differential tests (host CPU vs the VP) for the atomic group (ops/atomic.ts): CMPXCHG and XADD in every size,
// register (incl. AH..BH and the same register twice) and memory forms, with and without LOCK; CMPXCHG8B and
// CMPXCHG16B (equal and unequal, 16B misaligned -> #GP); LOCK accepted on every read-modify-write memory form of
// the ALU and XCHG groups, and #UD where it is not allowed (register destinations, CMP/TEST, MOV).
//
// Equality matters for CMPXCHG*, so the accumulator and the destination come from a two-value alphabet per case
// (with junk above the operand size, which must not take part in the comparison). CMPXCHG and XADD define all
// six flags; CMPXCHG8B/16B change ZF only (the others are compared as unchanged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DATA, diffSuite, printTotals, type DiffForm, type Rng } from '../support/diff/diff.js';
import { BareMachine, CODE } from '../support/bare-machine.js';
import type { Fault } from '../../src/vp/x86/interrupts.js';

type Size = 1 | 2 | 4 | 8;
const SIZES: Size[] = [1, 2, 4, 8];
const NAMES: Record<Size, string[]> = {
  8: ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'],
  4: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'],
  2: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'],
  1: ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'],
};
const PTR: Record<Size, string> = { 1: 'BYTE PTR', 2: 'WORD PTR', 4: 'DWORD PTR', 8: 'QWORD PTR' };

const forms: DiffForm[] = [];
const add = (f: DiffForm): void => { forms.push(f); };

/** Two operand-size values per size; a register gets one of them with random bits above the size. */
const ALPHA: Record<Size, [bigint, bigint]> = {
  1: [0x5an, 0xa5n], 2: [0x8001n, 0x7ffen], 4: [0x80000000n, 0x12345678n], 8: [0xffffffff00000001n, 0x1n],
};
function alpha(r: Rng, size: Size): bigint {
  const v = ALPHA[size][r.below(2)];
  if (size === 8) return v;
  const bits = BigInt(size * 8);
  return ((r.u64() >> bits) << bits) | v;
}
/** The same for a byte register that may be AH..BH (bits 8..15). */
function alphaHigh(r: Rng): bigint {
  return (r.u64() & ~0xff00n) | (ALPHA[1][r.below(2)] << 8n);
}
function storeAlpha(r: Rng, m: Uint8Array, off: number, size: Size): void {
  const v = ALPHA[size][r.below(2)];
  for (let k = 0; k < size; k++) m[off + k] = Number((v >> BigInt(8 * k)) & 0xffn);
}

// ---- CMPXCHG
for (const size of SIZES) {
  const n = NAMES[size];
  const g = (r: Rng): bigint => alpha(r, size);
  add({ asm: `cmpxchg ${n[3]}, ${n[2]}`, init: { rax: g, rbx: g } });
  add({ asm: `cmpxchg ${n[13]}, ${n[9]}`, init: { rax: g, r13: g } });
  add({ asm: `cmpxchg ${n[0]}, ${n[1]}`, init: { rax: g } }); // destination is the accumulator: always equal
  add({ asm: `cmpxchg ${n[1]}, ${n[0]}`, init: { rax: g, rcx: g } }); // source is the accumulator
  add({ asm: `cmpxchg ${n[5]}, ${n[5]}`, init: { rax: g, rbp: g } });
  for (const lock of ['', 'lock ']) {
    add({ asm: `${lock}cmpxchg ${PTR[size]} [0x200040], ${n[2]}`, init: { rax: g }, mem: (r, m) => storeAlpha(r, m, 0x40, size) });
    add({
      asm: `${lock}cmpxchg ${PTR[size]} [rdi+0x23], ${n[11]}`, init: { rax: g, rdi: BigInt(DATA) },
      mem: (r, m) => storeAlpha(r, m, 0x23, size),
    });
  }
}
add({ asm: 'cmpxchg ah, bl', init: { rax: (r: Rng) => { const lo = ALPHA[1][r.below(2)]; return (alphaHigh(r) & ~0xffn) | lo; } } });
add({ asm: 'cmpxchg bh, ch', init: { rax: (r: Rng) => alpha(r, 1), rbx: alphaHigh } });
add({ asm: 'cmpxchg BYTE PTR [0x200041], dh', init: { rax: (r: Rng) => alpha(r, 1) }, mem: (r, m) => storeAlpha(r, m, 0x41, 1) });

// ---- XADD
for (const size of SIZES) {
  const n = NAMES[size];
  add({ asm: `xadd ${n[3]}, ${n[2]}` });
  add({ asm: `xadd ${n[14]}, ${n[8]}` });
  add({ asm: `xadd ${n[1]}, ${n[1]}` }); // same register: the sum wins
  add({ asm: `xadd ${n[0]}, ${n[6]}` });
  for (const lock of ['', 'lock ']) {
    add({ asm: `${lock}xadd ${PTR[size]} [0x200050], ${n[2]}` });
    add({ asm: `${lock}xadd ${PTR[size]} [rsi+rcx*2+0x7], ${n[10]}`, init: { rsi: BigInt(DATA), rcx: (r: Rng) => r.below(64) } });
  }
}
add({ asm: 'xadd ah, ch' });
add({ asm: 'xadd dh, dh' });
add({ asm: 'lock xadd BYTE PTR [0x200061], bh' });

// ---- CMPXCHG8B / CMPXCHG16B
// EDX:EAX (RDX:RAX) from an alphabet of halves; memory from the same, so about a quarter of the cases are equal.
const H32 = [0x01234567n, 0x89abcdefn];
const H64 = [0x0123456789abcdefn, 0xfedcba9876543210n];
const half32 = (r: Rng): bigint => (r.u64() & 0xffffffff00000000n) | H32[r.below(2)]; // junk above
const half64 = (r: Rng): bigint => H64[r.below(2)];
function storeHalves(r: Rng, m: Uint8Array, off: number, halves: bigint[], bytes: number, parts: number): void {
  for (let p = 0; p < parts; p++) {
    const v = halves[r.below(2)];
    for (let k = 0; k < bytes; k++) m[off + p * bytes + k] = Number((v >> BigInt(8 * k)) & 0xffn);
  }
}
for (const lock of ['', 'lock ']) {
  for (const off of [0x80, 0x8b]) { // aligned and unaligned (8B has no alignment requirement)
    add({
      asm: `${lock}cmpxchg8b QWORD PTR [rdi+${off}]`, init: { rdi: BigInt(DATA), rax: half32, rdx: half32 },
      mem: (r, m) => storeHalves(r, m, off, H32, 4, 2),
    });
  }
  add({
    asm: `${lock}cmpxchg16b XMMWORD PTR [rdi+0xa0]`, init: { rdi: BigInt(DATA), rax: half64, rdx: half64 },
    mem: (r, m) => storeHalves(r, m, 0xa0, H64, 8, 2),
  });
  add({
    asm: `${lock}cmpxchg16b XMMWORD PTR [rdi+0xa8]`, name: `${lock}cmpxchg16b [misaligned] (#GP)`, allFault: true,
    init: { rdi: BigInt(DATA), rax: half64, rdx: half64 },
  });
}
add({ asm: '.byte 0x0f, 0xc7, 0xc8', name: 'cmpxchg8b with a register operand (#UD)', ud: true, allFault: true });

// ---- LOCK: accepted on memory read-modify-write forms of the ALU, XCHG, NOT/NEG, INC/DEC; #UD elsewhere.
const LOCKED_MEM = [0x70, 0x88, 0xa1];
let k = 0;
for (const size of SIZES) {
  const n = NAMES[size];
  const mem = (): string => `${PTR[size]} [0x${(DATA + LOCKED_MEM[k++ % LOCKED_MEM.length]).toString(16)}]`;
  for (const op of ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor']) {
    const undefFlags = op === 'and' || op === 'or' || op === 'xor' ? 0x10 : 0; // AF undefined after logic ops
    add({ asm: `lock ${op} ${mem()}, ${n[3]}`, undefFlags });
    add({ asm: `lock ${op} ${mem()}, ${size === 1 ? '0x81' : '0x7f'}`, undefFlags });
    if (size !== 1) add({ asm: `lock ${op} ${mem()}, ${size === 2 ? '0x1234' : '0x12345678'}`, undefFlags });
  }
  for (const op of ['inc', 'dec', 'not', 'neg']) add({ asm: `lock ${op} ${mem()}` });
  add({ asm: `lock xchg ${mem()}, ${n[2]}` });
}
const UD = [
  ['f0 01 d8', 'lock add eax, ebx'],
  ['f0 83 c0 01', 'lock add eax, 1'],
  ['f0 39 04 25 70 00 20 00', 'lock cmp [0x200070], eax'],
  ['f0 83 3c 25 70 00 20 00 01', 'lock cmp DWORD PTR [0x200070], 1'],
  ['f0 85 04 25 70 00 20 00', 'lock test [0x200070], eax'],
  ['f0 89 04 25 70 00 20 00', 'lock mov [0x200070], eax'],
  ['f0 ff c0', 'lock inc eax'],
  ['f0 0f b1 d8', 'lock cmpxchg eax, ebx'],
  ['f0 0f c1 d8', 'lock xadd eax, ebx'],
  ['f0 0f c7 c8', 'lock cmpxchg8b (register operand)'],
];
for (const [hex, what] of UD) {
  add({ asm: `.byte ${hex.split(' ').map((b) => '0x' + b).join(', ')}`, name: `${what} (#UD)`, ud: true, allFault: true });
}

diffSuite('atomic', forms);
printTotals('diff-atomic');

// ---- VP only: CMPXCHG16B's alignment check must come before the memory access faults it would otherwise hit
// (the host cannot show this: its test process maps the whole window). Also #GP(0): error code 0.
test('CMPXCHG16B misaligned raises #GP(0) before touching memory', () => {
  const m = new BareMachine();
  const cpu = m.engine.cpu;
  let vector = -1, error = -2;
  cpu.handleFault = (f: Fault): void => { vector = f.vector; error = f.errorCode; cpu.requestExit(-1); };
  // mov rdi, 0x8000008 (MMIO, outside RAM); cmpxchg16b [rdi]
  m.load(CODE, [0x48, 0xc7, 0xc7, 0x08, 0x00, 0x00, 0x08, 0x48, 0x0f, 0xc7, 0x0f, 0xf4]);
  m.run();
  assert.equal(vector, 13);
  assert.equal(error, 0);
  assert.deepEqual(m.platform.mmio, [], 'no access reached the platform');
});


