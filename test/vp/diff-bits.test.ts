// Differential tests (host CPU vs the VP) for the bit group (ops/bits.ts): BT/BTS/BTR/BTC with register and
// imm8 bit offsets on registers and memory (memory bit offsets signed and reaching outside the operand, LOCK
// forms), BSF/BSR (source 0 keeps the destination), BSWAP (incl. the undefined 16-bit form), XLAT.
//
// Undefined flags per the Intel SDM vol. 2 "Flags Affected": BT* leave OF, SF, AF, PF undefined (ZF unchanged,
// so compared); BSF/BSR leave CF, OF, SF, AF, PF undefined (ZF defined).
//
// Where the host and the VP must differ (the host has BMI1/ABM/POPCNT/RDRAND, our CPUID reports none): F3 0F BC
// / F3 0F BD on the VP are compared with the host's plain BSF/BSR (0F BC / 0F BD), since a pre-BMI processor
// ignores the F3 prefix; POPCNT's #UD is checked on the VP alone (test at the end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AF, CF, DATA, diffSuite, OF, PF, printTotals, SF, type CaseSetup, type DiffForm, type RegName, type Rng,
} from '../support/diff/diff.js';
import { BareMachine, CODE } from '../support/bare-machine.js';
import type { Fault } from '../../src/vp/x86/interrupts.js';

type Size = 2 | 4 | 8;
const SIZES: Size[] = [2, 4, 8];
const NAMES: Record<Size | 1, string[]> = {
  8: ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'],
  4: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'],
  2: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'],
  1: ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'],
};
const PTR: Record<Size, string> = { 2: 'WORD PTR', 4: 'DWORD PTR', 8: 'QWORD PTR' };
const WINDOW = 0x2000; // two pages: operands and words in either, and BT offsets reaching across
const BT_UNDEF = OF | SF | AF | PF;
const BSF_UNDEF = CF | OF | SF | AF | PF;

const forms: DiffForm[] = [];
const add = (f: DiffForm): void => { forms.push(f); };

/** Random upper bits above `size` bytes with the low part `low` (a value of the operand size). */
function withJunk(r: Rng, size: number, low: bigint): bigint {
  if (size === 8) return BigInt.asUintN(64, low);
  const bits = BigInt(size * 8);
  return ((r.u64() >> bits) << bits) | BigInt.asUintN(Number(bits), low);
}

/** Bit offsets: the edges of the operand width, beyond it, negative, and random (as a signed value). */
function bitOffset(r: Rng, size: number): bigint {
  const w = BigInt(size * 8);
  const min = -(1n << (w - 1n)), max = (1n << (w - 1n)) - 1n;
  switch (r.below(12)) {
    case 0: return 0n;
    case 1: return w - 1n;
    case 2: return w;
    case 3: return w + 1n;
    case 4: return -1n;
    case 5: return -w;
    case 6: return -w - 1n;
    case 7: return BigInt(r.below(8 * 0x300)) - BigInt(4 * 0x300); // within a few hundred bytes either side
    case 8: return min;
    case 9: return max;
    case 10: return BigInt(r.below(3 * size * 8));
    default: return BigInt.asIntN(Number(w), r.u64());
  }
}

// ---- BT/BTS/BTR/BTC with a register bit offset
const BT_OPS = ['bt', 'bts', 'btr', 'btc'];
for (const op of BT_OPS) {
  for (const size of SIZES) {
    // Register base: the offset is taken modulo the width (upper bits of the offset register are junk).
    for (const [d, o] of [[0, 1], [9, 2], [6, 15], [3, 3]]) {
      add({
        asm: `${op} ${NAMES[size][d]}, ${NAMES[size][o]}`, undefFlags: BT_UNDEF,
        init: d === o ? {} : { [NAMES[8][o] as RegName]: (r: Rng) => withJunk(r, size, bitOffset(r, size)) },
      });
    }
    // Memory base with a register offset: signed, addressing words outside the operand. The base register is
    // set from the case's offset so the word lands inside the window whatever the offset.
    const offGen = (r: Rng): bigint => withJunk(r, size, bitOffset(r, size));
    const baseGen = (r: Rng, c: CaseSetup): void => {
      const off = BigInt.asIntN(size * 8, c.reg('rcx'));
      c.set('rdi', BigInt.asUintN(64, BigInt(DATA + 0x800 + r.below(0x200) - 0x100) - (off >> 3n)));
    };
    add({ asm: `${op} ${PTR[size]} [rdi], ${NAMES[size][1]}`, undefFlags: BT_UNDEF, init: { rcx: offGen }, setup: baseGen });
    add({ asm: `${op} ${PTR[size]} [rdi+0x13], ${NAMES[size][1]}`, undefFlags: BT_UNDEF, init: { rcx: offGen }, setup: baseGen });
    if (op !== 'bt') {
      add({ asm: `lock ${op} ${PTR[size]} [rdi-0x8], ${NAMES[size][1]}`, undefFlags: BT_UNDEF, init: { rcx: offGen }, setup: baseGen });
    }
    // The page-aligned data window: small offsets around a fixed operand, incl. words in the previous page.
    add({
      asm: `${op} ${PTR[size]} [0x201000], ${NAMES[size][2]}`, undefFlags: BT_UNDEF,
      init: { rdx: (r: Rng) => withJunk(r, size, BigInt(r.below(0x4000)) - 0x2000n) },
    });
  }
}

// ---- group 8: BT* with imm8 (taken modulo the width, no address adjustment)
for (const op of BT_OPS) {
  for (const size of SIZES) {
    const w = size * 8;
    for (const imm of [0, 1, w - 1, w, w + 3, 0xff]) {
      add({ asm: `${op} ${NAMES[size][(imm % 5) + 8]}, ${imm}`, undefFlags: BT_UNDEF });
      add({ asm: `${op} ${PTR[size]} [0x2000${(0x10 + imm % 13).toString(16)}], ${imm}`, undefFlags: BT_UNDEF });
    }
    if (op !== 'bt') add({ asm: `lock ${op} ${PTR[size]} [rsi+0x21], ${w - 2}`, undefFlags: BT_UNDEF, init: { rsi: BigInt(DATA) } });
  }
}
// LOCK is #UD on BT (no write) and on register destinations; 0F BA /0../3 are undefined.
add({ asm: '.byte 0xf0, 0x0f, 0xa3, 0x0e', name: 'lock bt [rsi], ecx (#UD)', ud: true, allFault: true, init: { rsi: BigInt(DATA) } });
add({ asm: '.byte 0xf0, 0x0f, 0xba, 0x26, 0x03', name: 'lock bt [rsi], 3 (#UD)', ud: true, allFault: true, init: { rsi: BigInt(DATA) } });
add({ asm: '.byte 0xf0, 0x0f, 0xab, 0xc8', name: 'lock bts eax, ecx (#UD)', ud: true, allFault: true });
add({ asm: '.byte 0xf0, 0x0f, 0xba, 0xe8, 0x03', name: 'lock bts eax, 3 (#UD)', ud: true, allFault: true });
for (const sub of [0, 1, 2, 3]) {
  add({ asm: `.byte 0x0f, 0xba, ${0xc0 | (sub << 3)}, 0x05`, name: `0F BA /${sub} (#UD)`, ud: true, allFault: true });
}

// ---- BSF / BSR (and the F3 forms, which the VP must run as BSF / BSR)
/** Sources: 0 often (ZF, destination kept), single bits, edges, random. */
function bsfSource(r: Rng, size: number): bigint {
  switch (r.below(6)) {
    case 0: return withJunk(r, size, 0n);
    case 1: return withJunk(r, size, 1n << BigInt(r.below(size * 8)));
    case 2: return withJunk(r, size, (1n << BigInt(r.below(size * 8))) | 1n);
    default: return r.value();
  }
}
for (const op of ['bsf', 'bsr']) {
  for (const size of SIZES) {
    const [d, s] = [NAMES[size][0], NAMES[size][3]];
    add({ asm: `${op} ${d}, ${s}`, undefFlags: BSF_UNDEF, init: { rbx: (r: Rng) => bsfSource(r, size) } });
    add({ asm: `${op} ${NAMES[size][12]}, ${NAMES[size][9]}`, undefFlags: BSF_UNDEF, init: { r9: (r: Rng) => bsfSource(r, size) } });
    add({ asm: `${op} ${d}, ${d}`, undefFlags: BSF_UNDEF, init: { rax: (r: Rng) => bsfSource(r, size) } });
    add({
      asm: `${op} ${NAMES[size][2]}, ${PTR[size]} [0x200040]`, undefFlags: BSF_UNDEF,
      mem: (r, m) => { const v = bsfSource(r, size); for (let k = 0; k < size; k++) m[0x40 + k] = Number((v >> BigInt(8 * k)) & 0xffn); },
    });
    add({ asm: `${op} ${NAMES[size][14]}, ${PTR[size]} [rsi+0x43]`, undefFlags: BSF_UNDEF, init: { rsi: BigInt(DATA) } });
  }
}

// ---- BSWAP: 32 and 64 bits on every register; 16 bits (undefined in the SDM; real parts clear the low word)
for (let reg = 0; reg < 16; reg++) {
  if (reg === 4) continue; // RSP stays the stack pointer
  add({ asm: `bswap ${NAMES[4][reg]}` });
  add({ asm: `bswap ${NAMES[8][reg]}` });
}
add({ asm: '.byte 0x66, 0x0f, 0xc8', name: 'bswap ax (66 0F C8)' });
add({ asm: '.byte 0x66, 0x41, 0x0f, 0xcb', name: 'bswap r11w (66 41 0F CB)' });

// ---- XLAT: AL = [RBX + AL]; with 67, EBX + AL wrapping in 32 bits (RBX's upper half ignored)
add({ asm: 'xlatb', init: { rbx: BigInt(DATA + 0x100) } });
add({ asm: 'xlatb', name: 'xlatb (rbx in the middle of the window)', init: { rbx: (r: Rng) => BigInt(DATA + r.below(0xe00)) } });
add({ asm: '.byte 0x67, 0xd7', name: 'addr32 xlatb', init: { rbx: (r: Rng) => (r.u64() & 0xffffffff00000000n) | BigInt(DATA + r.below(0xe00)) } });
add({ asm: '.byte 0x3e, 0xd7', name: 'ds xlatb', init: { rbx: BigInt(DATA + 0x20) } });

diffSuite('bits', forms, { window: WINDOW });

// F3 0F BC / F3 0F BD: the VP reports neither BMI1 nor ABM, so like a pre-BMI processor it must execute them as
// BSF / BSR. The host does have TZCNT/LZCNT, so each VP form is checked against the host's BSF / BSR on the
// same cases (hostAsm), not against the host's TZCNT / LZCNT.
const f3: DiffForm[] = [];
for (const [op, byte] of [['bsf', 0xbc], ['bsr', 0xbd]] as const) {
  for (const size of SIZES) {
    const pre = size === 2 ? '0x66, ' : '';
    const rex = size === 8 ? '0x48, ' : '';
    // F3 [66] [REX.W] 0F BC/BD /r with ModRM c3: dst = eax/ax/rax, src = ebx/bx/rbx
    f3.push({
      asm: `.byte ${pre}0xf3, ${rex}0x0f, ${byte}, 0xc3`, hostAsm: `${op} ${NAMES[size][0]}, ${NAMES[size][3]}`,
      name: `F3 ${op} ${NAMES[size][0]}, ${NAMES[size][3]} (tzcnt/lzcnt encoding) vs host ${op}`,
      undefFlags: BSF_UNDEF, init: { rbx: (r: Rng) => bsfSource(r, size) },
    });
    f3.push({
      asm: `.byte ${pre}0xf3, ${rex}0x0f, ${byte}, 0x14, 0x25, 0x40, 0x00, 0x20, 0x00`,
      hostAsm: `${op} ${NAMES[size][2]}, ${PTR[size]} [0x200040]`,
      name: `F3 ${op} ${NAMES[size][2]}, [0x200040] (tzcnt/lzcnt encoding) vs host ${op}`,
      undefFlags: BSF_UNDEF,
      mem: (r, m) => { const v = bsfSource(r, size); for (let k = 0; k < size; k++) m[0x40 + k] = Number((v >> BigInt(8 * k)) & 0xffn); },
    });
  }
}
diffSuite('bits: F3 0F BC/BD as BSF/BSR', f3, { window: WINDOW });

printTotals('diff-bits');

// ---- VP only: forms our CPUID does not report must raise #UD, although the host executes them.
function vpVector(bytes: number[]): number {
  const m = new BareMachine();
  const cpu = m.engine.cpu;
  let vector = -1;
  cpu.handleFault = (f: Fault): void => { vector = f.vector; cpu.requestExit(-1); };
  m.load(CODE, [...bytes, 0xf4]);
  m.run();
  assert.equal(m.reg('rip'), BigInt(CODE), 'RIP stays on the faulting instruction');
  return vector;
}

test('POPCNT (F3 0F B8), RDRAND (0F C7 /6), RDSEED (0F C7 /7) are #UD: not reported by our CPUID', () => {
  assert.equal(vpVector([0xf3, 0x0f, 0xb8, 0xc3]), 6); // popcnt eax, ebx
  assert.equal(vpVector([0xf3, 0x48, 0x0f, 0xb8, 0xc3]), 6); // popcnt rax, rbx
  assert.equal(vpVector([0x0f, 0xb8, 0xc3]), 6); // JMPE encoding (IA-64 only)
  assert.equal(vpVector([0x0f, 0xc7, 0xf0]), 6); // rdrand eax
  assert.equal(vpVector([0x48, 0x0f, 0xc7, 0xf8]), 6); // rdseed rax
});

