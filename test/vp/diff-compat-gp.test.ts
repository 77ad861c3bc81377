// Differential tests (host CPU vs the VP) of the general-purpose integer groups in compatibility mode (a 32-bit
// code segment at CPL 3 under long mode; see test/support/diff/diff.ts, mode 'compat32'): 8-, 16- (66) and 32-bit
// operand sizes of ALU, INC/DEC (the one-byte 40-4F forms included), NOT/NEG/TEST, shifts and rotates, SHLD/SHRD,
// MUL/IMUL/DIV/IDIV, bit tests and scans, moves and extensions, XCHG/CMPXCHG/XADD/CMPXCHG8B, CMOV/SETcc,
// conversions, XLAT, LEA, string instructions with REP over ESI/EDI/ECX and (67) SI/DI/CX; memory operands with
// 32-bit addressing (base registers with junk upper halves, which must not matter) and with 16-bit addressing
// (67: every ModRM form, BX/BP/SI/DI with disp8/disp16) through LOW_ALIAS, where the first data page appears
// again below 64 KiB in both worlds.
//
// Undefined flags as in the 64-bit files (Intel SDM vol. 2 "Flags Affected"): logic ops AF; shifts AF, OF unless
// the masked count is 1, CF of SHL/SHR for counts >= the width; rotates OF unless the count is 1; SHLD/SHRD AF,
// OF unless 1 (16-bit counts above 16 are avoided: result undefined); MUL/IMUL SF ZF AF PF; DIV/IDIV all six;
// BT* OF SF AF PF; BSF/BSR CF OF SF AF PF (and the destination when the source is 0).
import {
  AF, ARITH, CF, DATA, diffSuite, LOW_ALIAS, OF, PF, printTotals, regBit, SF, ZF, type CaseInit, type DiffForm,
  type RegName, type Rng,
} from '../support/diff/diff.js';

type Size = 1 | 2 | 4;
const SIZES: Size[] = [1, 2, 4];
const NAMES: Record<Size, string[]> = {
  4: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'],
  2: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'],
  1: ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'],
};
const PTR: Record<Size, string> = { 1: 'BYTE PTR', 2: 'WORD PTR', 4: 'DWORD PTR' };
const n = (size: Size, k: number): string => NAMES[size][k];

/** A register value with junk in the upper half and `lo` below (addresses must ignore the upper half). */
const junkHi = (lo: number | ((r: Rng) => number)) => (r: Rng): bigint =>
  (BigInt(r.u32()) << 32n) | BigInt((typeof lo === 'number' ? lo : lo(r)) >>> 0);

interface Mem { m: string; init: Partial<Record<RegName, (r: Rng) => bigint>>; pinned: number }
const pins = (...r: RegName[]): number => r.reduce((a, x) => a | regBit(x), 0);
/** 32-bit addressing, then 16-bit addressing (67) into the low alias of the window's first page. */
const MEMS: Mem[] = [
  { m: '[0x200010]', init: {}, pinned: 0 },
  { m: '[ebx+0x23]', init: { rbx: junkHi(DATA) }, pinned: pins('rbx') },
  { m: '[esi+ecx*4+0x8]', init: { rsi: junkHi(DATA), rcx: junkHi((r) => r.below(24)) }, pinned: pins('rsi', 'rcx') },
  { m: '[ebp+edi*2-0x80000000]', init: { rbp: junkHi(DATA + 0x80000040), rdi: junkHi((r) => r.below(16)) }, pinned: pins('rbp', 'rdi') },
  { m: '[ebp+0x101]', init: { rbp: junkHi(DATA) }, pinned: pins('rbp') },
  { m: '[bx+si+0x10]', init: { rbx: junkHi(LOW_ALIAS), rsi: junkHi((r) => r.below(0x100)) }, pinned: pins('rbx', 'rsi') },
  { m: '[bp+di-0x7]', init: { rbp: junkHi(LOW_ALIAS + 0x40), rdi: junkHi((r) => r.below(0x100)) }, pinned: pins('rbp', 'rdi') },
  { m: '[bx+di+0x1234]', init: { rbx: junkHi(LOW_ALIAS - 0x1234 + 8), rdi: junkHi((r) => r.below(0x100)) }, pinned: pins('rbx', 'rdi') },
  { m: '[bp+si]', init: { rbp: junkHi(LOW_ALIAS), rsi: junkHi((r) => r.below(0x180)) }, pinned: pins('rbp', 'rsi') },
  { m: '[si+0x7f]', init: { rsi: junkHi((r) => LOW_ALIAS + r.below(0x100)) }, pinned: pins('rsi') },
  { m: '[di-0x80]', init: { rdi: junkHi((r) => LOW_ALIAS + 0x80 + r.below(0x100)) }, pinned: pins('rdi') },
  { m: '[bx]', init: { rbx: junkHi((r) => LOW_ALIAS + r.below(0x1f0)) }, pinned: pins('rbx') },
  { m: '[bp+0x10]', init: { rbp: junkHi((r) => LOW_ALIAS + r.below(0x100)) }, pinned: pins('rbp') },
  // 16-bit wrap-around: BX+SI+disp overflows 64 KiB and wraps into the alias.
  { m: '[bx+si-0x10]', init: { rbx: junkHi(0xff00), rsi: junkHi((r) => LOW_ALIAS + 0x100 + r.below(0x80)) }, pinned: pins('rbx', 'rsi') },
];
/** The other operand of a memory form: a register no MEMS entry pins (eax, edx; or ah/dh for bytes). */
const OTHER: Record<Size, string[]> = { 4: ['eax', 'edx'], 2: ['ax', 'dx'], 1: ['al', 'dh', 'ah', 'dl'] };

const forms: DiffForm[] = [];
const add = (f: DiffForm): void => { forms.push(f); };
let seq = 0;
const mem = (): Mem => MEMS[seq++ % MEMS.length];
const other = (size: Size): string => OTHER[size][seq++ % OTHER[size].length];
const memForm = (asm: (m: string) => string, extra: Partial<DiffForm> = {}): void => {
  const m = mem();
  add({ asm: asm(m.m), init: m.init, ...extra });
};

// ---- ALU
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
for (const op of ALU) {
  const undefFlags = op === 'and' || op === 'or' || op === 'xor' ? AF : 0;
  for (const size of SIZES) {
    add({ asm: `${op} ${n(size, 0)}, ${n(size, 3)}`, undefFlags });
    add({ asm: `{load} ${op} ${n(size, 6)}, ${n(size, 1)}`, undefFlags });
    add({ asm: `${op} ${n(size, 2)}, ${n(size, 2)}`, undefFlags });
    memForm((m) => `${op} ${PTR[size]} ${m}, ${other(size)}`, { undefFlags });
    memForm((m) => `${op} ${other(size)}, ${PTR[size]} ${m}`, { undefFlags });
    add({ asm: `${op} ${n(size, 7)}, ${['0x7f', '-0x80', '1', '-1'][seq++ % 4]}`, undefFlags });
    if (size !== 1) add({ asm: `${op} ${n(size, 5)}, ${size === 2 ? '0x8001' : '0x80000001'}`, undefFlags });
    memForm((m) => `${op} ${PTR[size]} ${m}, ${size === 1 ? '0xc5' : '-3'}`, { undefFlags });
    add({ asm: `${op} ${n(size, 0)}, ${size === 1 ? '0xc5' : size === 2 ? '0x8001' : '0x80000001'}`, undefFlags });
  }
}
add({ asm: '.byte 0x82, 0xc3, 0x81', name: 'add bl, 0x81 (82: valid outside 64-bit mode)' });
add({ asm: '.byte 0x82, 0x3d; .long 0x200010; .byte 0x7f', name: 'cmp byte [0x200010], 0x7f (82 /7)' });

// ---- INC/DEC (40-4F one-byte forms in both sizes), NOT, NEG, TEST
for (let r = 0; r < 8; r++) {
  if (r === 4) continue;
  add({ asm: `.byte 0x${(0x40 + r).toString(16)}`, name: `inc ${n(4, r)} (40+r)` });
  add({ asm: `.byte 0x${(0x48 + r).toString(16)}`, name: `dec ${n(4, r)} (48+r)` });
  add({ asm: `.byte 0x66, 0x${(0x40 + r).toString(16)}`, name: `inc ${n(2, r)} (66 40+r)` });
  add({ asm: `.byte 0x66, 0x${(0x48 + r).toString(16)}`, name: `dec ${n(2, r)} (66 48+r)` });
}
for (const size of SIZES) {
  for (const op of ['inc', 'dec', 'not', 'neg']) {
    add({ asm: `${op} ${n(size, 6)}` });
    memForm((m) => `${op} ${PTR[size]} ${m}`);
  }
  add({ asm: `test ${n(size, 1)}, ${n(size, 2)}`, undefFlags: AF });
  memForm((m) => `test ${PTR[size]} ${m}, ${other(size)}`, { undefFlags: AF });
  add({ asm: `test ${n(size, 0)}, ${size === 1 ? '0x81' : '0x8001'}`, undefFlags: AF });
  memForm((m) => `test ${PTR[size]} ${m}, 0x41`, { undefFlags: AF });
}
const SETS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g']
  .map((c, k) => `set${c} BYTE PTR [0x${(DATA + 0x180 + k).toString(16)}]`).join('; ');
for (const op of ['add', 'sub', 'adc', 'sbb', 'and', 'cmp']) {
  for (const size of SIZES) add({ asm: `${op} ${n(size, 0)}, ${n(size, 3)}; ${SETS}`, undefFlags: op === 'and' ? AF : 0 });
}
add({ asm: `.byte 0x40; ${SETS}`, name: 'inc eax (40); all SETcc' });
add({ asm: `.byte 0x66, 0x4a; ${SETS}`, name: 'dec dx (66 4A); all SETcc' });

// ---- shifts and rotates
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar'] as const;
function shiftUndef(op: string, size: Size, raw: number): number {
  const cnt = raw & 31;
  if (cnt === 0) return 0;
  const of = cnt === 1 ? 0 : OF;
  if (op === 'rol' || op === 'ror' || op === 'rcl' || op === 'rcr') return of;
  if (op === 'sar') return AF | of;
  return AF | of | (cnt >= size * 8 ? CF : 0);
}
const clCount = (c: CaseInit): number => Number(c.reg('rcx') & 0xffn);
for (const op of SHIFTS) {
  for (const size of SIZES) {
    const w = size * 8;
    add({ asm: `${op} ${n(size, 3)}, 1`, undefFlags: shiftUndef(op, size, 1) });
    for (const k of [0, 3, w - 1, w, w + 1, 31]) add({ asm: `${op} ${n(size, (k % 3) * 2)}, ${k}`, undefFlags: shiftUndef(op, size, k) });
    add({ asm: `${op} ${n(size, 7)}, cl`, undefFlags: (c) => shiftUndef(op, size, clCount(c)) });
    add({ asm: `${op} ${n(size, 2)}, cl`, undefFlags: (c) => shiftUndef(op, size, clCount(c)), init: { rcx: junkHi((r) => r.below(2 * w + 2)) } });
    memForm((m) => `${op} ${PTR[size]} ${m}, ${w - 3}`, { undefFlags: shiftUndef(op, size, w - 3) });
    memForm((m) => `${op} ${PTR[size]} ${m}, 1`, { undefFlags: shiftUndef(op, size, 1) });
  }
}
const dUndef = (raw: number): number => ((raw & 31) === 0 ? 0 : AF | ((raw & 31) === 1 ? 0 : OF));
for (const op of ['shld', 'shrd']) {
  for (const size of [2, 4] as const) {
    for (const k of size === 2 ? [0, 1, 7, 16] : [0, 1, 13, 31]) add({ asm: `${op} ${n(size, 0)}, ${n(size, 3)}, ${k}`, undefFlags: dUndef(k) });
    const cl = size === 2 ? (r: Rng): bigint => junkHi(() => (r.u32() & ~0x1f) | r.below(17))(r) : junkHi((r) => r.u32());
    add({ asm: `${op} ${n(size, 6)}, ${n(size, 7)}, cl`, undefFlags: (c) => dUndef(clCount(c)), init: { rcx: cl } });
    memForm((m) => `${op} ${PTR[size]} ${m}, ${other(size)}, 5`, { undefFlags: dUndef(5) });
  }
}

// ---- multiply and divide (divisions include #DE: zero divisors and quotient overflow)
const MUL_UNDEF = SF | ZF | AF | PF;
for (const size of SIZES) {
  for (const op of ['mul', 'imul']) {
    add({ asm: `${op} ${n(size, 3)}`, undefFlags: MUL_UNDEF });
    memForm((m) => `${op} ${PTR[size]} ${m}`, { undefFlags: MUL_UNDEF });
  }
  for (const op of ['div', 'idiv']) {
    // Small high halves make most divisions succeed; some keep random values (#DE).
    const hiInit = (r: Rng): bigint => junkHi(() => (r.below(4) === 0 ? r.u32() : r.below(3) === 0 ? 0xffffffff : r.below(3)))(r);
    const init: Partial<Record<RegName, (r: Rng) => bigint>> = size === 1
      ? { rax: junkHi((r) => (r.below(3) << 8) | r.below(256)) } : { rdx: hiInit };
    add({ asm: `${op} ${n(size, 3)}`, undefFlags: ARITH, init });
    add({ asm: `${op} ${n(size, 1)}`, undefFlags: ARITH, init: { ...init, rcx: junkHi((r) => (r.below(8) === 0 ? 0 : r.u32())) } });
    memForm((m) => `${op} ${PTR[size]} ${m}`, { undefFlags: ARITH });
  }
}
for (const size of [2, 4] as const) {
  add({ asm: `imul ${n(size, 0)}, ${n(size, 3)}`, undefFlags: MUL_UNDEF });
  memForm((m) => `imul ${n(size, 2)}, ${PTR[size]} ${m}`, { undefFlags: MUL_UNDEF });
  add({ asm: `imul ${n(size, 6)}, ${n(size, 7)}, ${size === 2 ? '0x7ff1' : '-0x12345'}`, undefFlags: MUL_UNDEF });
  memForm((m) => `imul ${n(size, 0)}, ${PTR[size]} ${m}, -7`, { undefFlags: MUL_UNDEF });
}

// ---- bit tests and scans
const BT_UNDEF = OF | SF | AF | PF;
const BSF_UNDEF = CF | OF | SF | AF | PF;
for (const op of ['bt', 'bts', 'btr', 'btc']) {
  for (const size of [2, 4] as const) {
    add({ asm: `${op} ${n(size, 0)}, ${n(size, 1)}`, undefFlags: BT_UNDEF });
    add({ asm: `${op} ${n(size, 3)}, ${size * 8 - 3}`, undefFlags: BT_UNDEF });
    memForm((m) => `${op} ${PTR[size]} ${m}, 9`, { undefFlags: BT_UNDEF });
    // Register bit offsets reach outside the operand: keep them within the window (signed, both directions).
    add({ asm: `${op} ${PTR[size]} [0x200100], ${n(size, 2)}`, undefFlags: BT_UNDEF, init: { rdx: junkHi((r) => r.below(0x800) - 0x400) } });
  }
}
for (const op of ['bsf', 'bsr']) {
  for (const size of [2, 4] as const) {
    const src = (r: Rng): bigint => (r.below(4) === 0 ? BigInt(r.u32()) << 32n : r.u64()); // low half 0 sometimes
    add({
      asm: `${op} ${n(size, 0)}, ${n(size, 3)}`, undefFlags: BSF_UNDEF, init: { rbx: src },
      undefRegs: (c) => ((c.reg('rbx') & (size === 2 ? 0xffffn : 0xffffffffn)) === 0n ? regBit('rax') : 0),
    });
  }
}
add({ asm: 'bswap eax; bswap edi' });

// ---- moves, extensions, exchanges, conditional moves, conversions
for (const size of SIZES) {
  add({ asm: `mov ${n(size, 0)}, ${n(size, 5)}` });
  memForm((m) => `mov ${other(size)}, ${PTR[size]} ${m}`);
  memForm((m) => `mov ${PTR[size]} ${m}, ${other(size)}`);
  memForm((m) => `mov ${PTR[size]} ${m}, ${size === 1 ? '0x9c' : '-0x1234'}`);
  add({ asm: `xchg ${n(size, 1)}, ${n(size, 6)}` });
  memForm((m) => `xchg ${PTR[size]} ${m}, ${other(size)}`);
  memForm((m) => `xadd ${PTR[size]} ${m}, ${other(size)}`);
  add({ asm: `cmpxchg ${n(size, 3)}, ${n(size, 2)}`, init: { rax: (r: Rng) => (r.below(2) ? r.u64() : 0n) } });
  memForm((m) => `lock cmpxchg ${PTR[size]} ${m}, ${size === 1 ? 'dl' : n(size, 2)}`);
}
add({ asm: 'mov ax, 0x1234; mov eax, 0x89abcdef; mov bh, 0x5a' });
add({ asm: 'movzx eax, bl; movzx ecx, WORD PTR [0x200010]; movsx edx, bh; movsx esi, WORD PTR [0x200013]' });
add({ asm: 'movzx ax, bl; movsx di, BYTE PTR [0x200011]' });
memForm((m) => `movsx ebx, BYTE PTR ${m}`);
for (const cc of ['o', 'b', 'e', 'be', 's', 'p', 'l', 'le', 'ne', 'g']) {
  add({ asm: `cmp eax, ebx; cmov${cc} ecx, edx; cmov${cc} si, di` });
  memForm((m) => `cmp eax, ecx; cmov${cc} edx, DWORD PTR ${m}`);
}
add({ asm: 'cbw; cwd; cwde; cdq' });
add({ asm: 'cwde; cdq' });
add({ asm: 'lahf; sahf; clc; cmc; stc; cld; std' });
add({ asm: 'lock cmpxchg8b QWORD PTR [0x200018]', init: { rdx: (r: Rng) => (r.below(2) ? r.u64() : 0n) } });
add({ asm: 'cmpxchg8b QWORD PTR [bx+si]', init: { rbx: junkHi(LOW_ALIAS), rsi: junkHi((r) => r.below(0x100)) } });
// XLAT: [EBX + AL], and with 67 [BX + AL] in the low alias.
add({ asm: 'xlatb', init: { rbx: junkHi((r) => DATA + r.below(0x100)) } });
add({ asm: '.byte 0x67, 0xd7', name: 'xlat with BX (67)', init: { rbx: junkHi((r) => LOW_ALIAS + r.below(0x100)) } });

// ---- LEA: every 32- and 16-bit addressing form computes the same offset (no memory access)
for (const a of ['[eax+ebx*4+0x12345678]', '[esp+ecx*8-1]', '[ebp+0]', '[0x89abcdef]', '[esi*2+0x10]', '[edi+edx]']) {
  add({ asm: `lea ecx, ${a}` });
  add({ asm: `lea cx, ${a}` });
}
const RM16 = ['bx+si', 'bx+di', 'bp+si', 'bp+di', 'si', 'di', 'bp', 'bx'];
for (const rm of RM16) {
  for (const disp of ['', '+0x7f', '-0x80', '+0x1234', '-0x7ff0']) {
    if (rm === 'bp' && disp === '') continue; // mod 0 rm 6 is [disp16]
    add({ asm: `lea eax, [${rm}${disp}]` });
  }
  add({ asm: `lea dx, [${rm}-3]` });
}
add({ asm: '.byte 0x67, 0x8d, 0x06, 0x34, 0x12', name: 'lea eax, [0x1234] (16-bit disp16 form)' });
add({ asm: '.byte 0x67, 0x8b, 0x06; .short 0xc010', name: 'mov eax, [0xc010] (16-bit disp16 form)' });
add({ asm: '.byte 0x67, 0xa1; .short 0xc020', name: 'mov eax, moffs16 (A1 with 67)' });
add({ asm: '.byte 0x67, 0xa2; .short 0xc031', name: 'mov moffs16, al (A2 with 67)' });
add({ asm: 'mov eax, DWORD PTR ds:0x200024; mov ds:0x200031, bl', name: 'mov eax/moffs32 (A1/A2 forms)' });

// ---- string instructions: 32-bit ESI/EDI/ECX (junk upper halves) and 67: SI/DI/CX in the low alias
/** Counts whose runs stay inside the window whichever way DF points (sources at +0x80.., destinations at +0x100..). */
const count = (r: Rng, e: number): number => [0, 1, 2, 5, r.below(0x60 / e)][r.below(5)];
const SUFFIX: Record<Size, string> = { 1: 'b', 2: 'w', 4: 'd' };
for (const size of SIZES) {
  const s = SUFFIX[size];
  const i32 = (rcx: boolean): Partial<Record<RegName, (r: Rng) => bigint>> => ({
    rsi: junkHi((r) => DATA + 0x80 + r.below(0x40)), rdi: junkHi((r) => DATA + 0x100 + r.below(0x40)),
    ...(rcx ? { rcx: junkHi((r) => count(r, size)) } : {}),
  });
  const i16 = (r: Rng): bigint => junkHi(() => LOW_ALIAS + 0x80 + r.below(0x40))(r);
  const i16d = (r: Rng): bigint => junkHi(() => LOW_ALIAS + 0x100 + r.below(0x40))(r);
  const cx16 = (r: Rng): bigint => (BigInt(r.u32() | 0x10000) & 0xffff0000n) | BigInt(count(r, size));
  for (const op of ['movs', 'stos', 'lods', 'cmps', 'scas']) {
    add({ asm: `${op}${s}`, init: i32(false) });
    add({ asm: `rep ${op}${s}`.replace('rep cmps', 'repe cmps').replace('rep scas', 'repne scas'), init: i32(true) });
    if (op === 'cmps' || op === 'scas') add({ asm: `${op === 'cmps' ? 'repne' : 'repe'} ${op}${s}`, init: i32(true) });
    add({ asm: `addr16 rep ${op}${s}`.replace('rep cmps', 'repe cmps').replace('rep scas', 'repe scas'), init: { rsi: i16, rdi: i16d, rcx: cx16 } });
  }
}

diffSuite('compat general-purpose groups (8/16/32-bit)', forms, { mode: 'compat32' });
printTotals('diff-compat-gp');
