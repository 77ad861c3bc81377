// Differential tests (host CPU vs the VP) for shifts and rotates (ops/shift.ts): ROL ROR RCL RCR SHL SAL(/6) SHR
// SAR in the C0/C1 (imm8), D0/D1 (by 1) and D2/D3 (by CL) encodings, every operand size, register (incl. AH..BH,
// REX byte registers) and memory destinations, counts 0, 1, width-1, width, width+1, above the mask; and the double
// shifts SHLD/SHRD (0F A4/A5/AC/AD) by imm8 and CL.
//
// Undefined flags, Intel SDM vol. 2 "Flags Affected" of SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD/SHRD, with n the
// count masked to 5 bits (6 with REX.W):
//   n = 0: nothing is undefined (no flag may change);
//   shifts: AF undefined; OF undefined unless n = 1; CF undefined for SHL/SHR when n >= the operand width;
//   rotates: OF undefined unless n = 1 (SF ZF AF PF are never affected, so they are compared);
//   SHLD/SHRD: AF undefined; OF undefined unless n = 1; for n > the width (16-bit forms), the result and all
//   flags are undefined: those forms run with counts whose masked value is <= 16.
import {
  AF, CF, DATA, diffSuite, OF, printTotals, SF, ZF, PF, type CaseInit, type DiffForm, type RegName, type Rng,
} from '../support/diff/diff.js';

type Size = 1 | 2 | 4 | 8;
const SIZES: Size[] = [1, 2, 4, 8];
const NAMES: Record<Size, string[]> = {
  8: ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'],
  4: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'],
  2: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'],
  1: ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'],
};
const PTR: Record<Size, string> = { 1: 'BYTE PTR', 2: 'WORD PTR', 4: 'DWORD PTR', 8: 'QWORD PTR' };

const OPS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'] as const;
type Op = typeof OPS[number];
const SLASH: Record<Op, number> = { rol: 0, ror: 1, rcl: 2, rcr: 3, shl: 4, shr: 5, sal: 6, sar: 7 };

/** Undefined flags of a shift/rotate given the raw count. */
function undefFor(op: Op, size: Size, raw: number): number {
  const w = size * 8;
  const n = raw & (size === 8 ? 63 : 31);
  if (n === 0) return 0;
  const of = n === 1 ? 0 : OF;
  if (op === 'rol' || op === 'ror' || op === 'rcl' || op === 'rcr') return of;
  if (op === 'sar') return AF | of;
  return AF | of | (n >= w ? CF : 0);
}

const clOf = (c: CaseInit): number => Number(c.reg('rcx') & 0xffn);

const forms: DiffForm[] = [];
const add = (f: DiffForm): void => { forms.push(f); };

/** Destination registers per size (never CL/RCX, which holds the count). */
const DEST: Record<Size, string[]> = {
  1: ['al', 'ah', 'bh', 'dil', 'r11b', 'dh'],
  2: ['ax', 'dx', 'r9w', 'si'],
  4: ['eax', 'ebx', 'r10d', 'edi'],
  8: ['rax', 'rdx', 'r12', 'rsi'],
};
const MEMS: { m: string; init: Partial<Record<RegName, bigint>> }[] = [
  { m: '[0x200010]', init: {} },
  { m: '[rdi+0x21]', init: { rdi: BigInt(DATA) } },
  { m: '[rbx+r8*2+0x40]', init: { rbx: BigInt(DATA), r8: 7n } },
];

let seq = 0;
for (const op of OPS) {
  for (const size of SIZES) {
    const w = size * 8;
    const dst = (): string => DEST[size][seq++ % DEST[size].length];
    const mem = (): { m: string; init: Partial<Record<RegName, bigint>> } => MEMS[seq++ % MEMS.length];
    const rex = size === 8 ? '0x48, ' : size === 2 ? '0x66, ' : '';
    const opc1 = size === 1 ? '0xd0' : '0xd1', opcI = size === 1 ? '0xc0' : '0xc1';
    const modrmBx = `0x${(0xc0 | (SLASH[op] << 3) | 3).toString(16)}`; // register bl/bx/ebx/rbx
    if (op === 'sal') {
      // /6 has no mnemonic of its own: raw encodings of the alias.
      add({ asm: `.byte ${rex}${opc1}, ${modrmBx}`, name: `sal(/6) ${NAMES[size][3]}, 1`, undefFlags: undefFor(op, size, 1) });
      add({ asm: `.byte ${rex}${size === 1 ? '0xd2' : '0xd3'}, ${modrmBx}`, name: `sal(/6) ${NAMES[size][3]}, cl`, undefFlags: (c) => undefFor(op, size, clOf(c)) });
      for (const k of [3, w - 1]) add({ asm: `.byte ${rex}${opcI}, ${modrmBx}, ${k}`, name: `sal(/6) ${NAMES[size][3]}, ${k}`, undefFlags: undefFor(op, size, k) });
      continue;
    }
    // D0/D1: by 1
    add({ asm: `${op} ${dst()}, 1`, undefFlags: undefFor(op, size, 1) });
    const m1 = mem();
    add({ asm: `${op} ${PTR[size]} ${m1.m}, 1`, undefFlags: undefFor(op, size, 1), init: m1.init });
    // C0/C1 with an explicit count of 1 (the assembler would pick D0/D1)
    add({ asm: `.byte ${rex}${opcI}, ${modrmBx}, 1`, name: `${op} ${NAMES[size][3]}, imm8 1 (C0/C1)`, undefFlags: undefFor(op, size, 1) });
    // C0/C1: counts around the width and the mask
    const counts = new Set([0, 2, w - 1, w, w + 1, 31, 32, 33, 63, 64 + 5, 0xff]);
    for (const k of counts) add({ asm: `${op} ${dst()}, ${k}`, undefFlags: undefFor(op, size, k) });
    for (const k of [0, 5, w - 1, w + 1, 0xe1]) {
      const m = mem();
      add({ asm: `${op} ${PTR[size]} ${m.m}, ${k}`, undefFlags: undefFor(op, size, k), init: m.init });
    }
    // D2/D3: by CL (random counts: edges, small values with garbage above, anything)
    const undefCl = (c: CaseInit): number => undefFor(op, size, clOf(c));
    add({ asm: `${op} ${dst()}, cl`, undefFlags: undefCl });
    add({ asm: `${op} ${dst()}, cl`, undefFlags: undefCl, init: { rcx: (r: Rng) => BigInt(r.below(3 * w)) } });
    const m2 = mem();
    add({ asm: `${op} ${PTR[size]} ${m2.m}, cl`, undefFlags: undefCl, init: m2.init });
    const m3 = mem();
    add({ asm: `${op} ${PTR[size]} ${m3.m}, cl`, undefFlags: undefCl, init: { ...m3.init, rcx: (r: Rng) => BigInt(r.below(2 * w + 2)) } });
  }
}

// Flags produced by a shift then read through conditions (the flags are eager, the conditions must see them).
const SETCC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
for (const op of ['shl', 'shr', 'sar'] as const) {
  // OF defined (count 1), AF undefined: SETcc never reads AF, so these compare memory exactly.
  const sets = SETCC.map((c, k) => `set${c} BYTE PTR [0x${(DATA + 0x180 + k).toString(16)}]`).join('; ');
  add({ asm: `${op} edx, 1; ${sets}`, undefFlags: AF });
  add({ asm: `${op} r9, 1; ${sets}`, undefFlags: AF });
}
add({ asm: 'rcl eax, 1; rcr ebx, 1; adc ecx, edx' });

// Rotates after each kind of flag-setting instruction: a rotate changes only CF and OF and leaves SF, ZF, PF, AF
// as the previous instruction computed them (the VP keeps those lazy, flags.ts LZ_ROT), so every flag is read
// right after it: through all 16 conditions (SETcc) and PUSHF. Flags the previous instruction leaves undefined
// (logic and shifts: AF; IMUL: SF ZF AF PF) and OF after a rotate by more than 1 are masked out of what is read
// (the pushed copy on the stack is overwritten with the masked value: it also holds IF, which differs).
{
  const BEFORE: { asm: string; undef: number }[] = [
    { asm: 'add eax, ebx', undef: 0 }, { asm: 'add rdx, rsi', undef: 0 }, { asm: 'adc r8d, r10d', undef: 0 },
    { asm: 'sub rax, rbx', undef: 0 }, { asm: 'cmp esi, edx', undef: 0 }, { asm: 'sbb r10, rdi', undef: 0 },
    { asm: 'and eax, ebx', undef: AF }, { asm: 'xor rdx, rsi', undef: AF }, { asm: 'test r8b, r10b', undef: AF },
    { asm: 'inc edi', undef: 0 }, { asm: 'dec r9', undef: 0 }, { asm: 'neg rbx', undef: 0 },
    { asm: 'imul eax, ebx', undef: SF | ZF | AF | PF }, { asm: 'imul rdx, rsi, 3', undef: SF | ZF | AF | PF },
    { asm: 'shl edx, 3', undef: AF }, { asm: 'sar r9, 1', undef: AF }, { asm: 'rol eax, 1', undef: 0 },
  ];
  // [rotate, OF undefined?] — imm, by 1, by CL (CL = 1 or 9 below), 64/32/16-bit register and memory forms.
  const ROTATES: [string, boolean][] = [
    ['rol r11d, 1', false], ['ror r11, 1', false], ['rol r11, 7', true], ['ror r11d, 13', true], ['rol r11, 33', true],
    ['ror r11, 40', true], ['rol r11d, cl', true], ['ror r11, cl', true], ['rcl r11d, 1', false], ['rcr r11, 1', false],
    ['rol r11w, 1', false], ['ror DWORD PTR [0x200010], 1', false],
  ];
  const CONDS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  const USES: Record<string, number> = {
    o: OF, no: OF, b: CF, ae: CF, e: ZF, ne: ZF, be: CF | ZF, a: CF | ZF, s: SF, ns: SF, p: PF, np: PF, l: SF | OF, ge: SF | OF,
    le: ZF | SF | OF, g: ZF | SF | OF,
  };
  let j = 0;
  for (const b of BEFORE) {
    for (let r = 0; r < 3; r++) {
      const [rot, ofUndef] = ROTATES[j++ % ROTATES.length];
      const undef = b.undef | (ofUndef ? OF : 0);
      const sets = CONDS.filter((c) => (USES[c] & undef) === 0).map((c, k) => `set${c} BYTE PTR [0x${(DATA + 0x180 + k).toString(16)}]`);
      const read = (0x8d5 & ~undef).toString(16); // the six arithmetic flags, less the undefined ones
      add({
        asm: `${b.asm}; ${rot}; ${sets.join('; ')}; pushfq; pop r12; and r12d, 0x${read}; mov [rsp-8], r12`,
        undefFlags: undef, init: rot.includes('cl') ? { rcx: (rr: Rng) => (rr.u64() & ~0x3fn) | (rr.below(2) === 0 ? 1n : 9n) } : {},
      });
    }
  }
}

// ---- SHLD / SHRD
/** Undefined flags of SHLD/SHRD for a raw count. */
function undefD(size: Size, raw: number): number {
  const n = raw & (size === 8 ? 63 : 31);
  if (n === 0) return 0;
  return AF | (n === 1 ? 0 : OF);
}
/** CL values whose masked count is at most 16 (16-bit forms: larger counts are undefined), garbage above bit 4. */
const cl16 = (r: Rng): bigint => (r.u64() & ~0x1fn) | BigInt(r.below(17));
for (const op of ['shld', 'shrd'] as const) {
  for (const size of [2, 4, 8] as Size[]) {
    const w = size * 8;
    const regs: [string, string][] = [[NAMES[size][0], NAMES[size][3]], [NAMES[size][9], NAMES[size][14]], [NAMES[size][6], NAMES[size][6]]];
    const counts = size === 2 ? [0, 1, 2, 8, 15, 16, 0x21, 0xf0] : [0, 1, 2, w / 2, w - 1, w, w + 1, 0xff];
    counts.forEach((k, j) => {
      const [d, s] = regs[j % regs.length];
      add({ asm: `${op} ${d}, ${s}, ${k}`, undefFlags: undefD(size, k) });
    });
    for (const k of size === 2 ? [1, 7, 16] : [1, 13, w - 1]) {
      const m = MEMS[seq++ % MEMS.length];
      add({ asm: `${op} ${PTR[size]} ${m.m}, ${NAMES[size][2]}, ${k}`, undefFlags: undefD(size, k), init: m.init });
    }
    const undefCl = (c: CaseInit): number => undefD(size, clOf(c));
    const clInit = size === 2 ? { rcx: cl16 } : {};
    add({ asm: `${op} ${NAMES[size][0]}, ${NAMES[size][3]}, cl`, undefFlags: undefCl, init: clInit });
    add({ asm: `${op} ${NAMES[size][11]}, ${NAMES[size][2]}, cl`, undefFlags: undefCl, init: size === 2 ? clInit : { rcx: (r: Rng) => BigInt(r.below(2 * w + 2)) } });
    const m = MEMS[seq++ % MEMS.length];
    add({ asm: `${op} ${PTR[size]} ${m.m}, ${NAMES[size][13]}, cl`, undefFlags: undefCl, init: { ...m.init, ...clInit } });
  }
}

// 16-bit SHLD/SHRD by 17..31: undefined per the SDM, so the result registers and flags are not compared; the
// forms still check that nothing else changes and that the VP does not fault.
for (const op of ['shld', 'shrd'] as const) {
  add({
    asm: `${op} ax, bx, cl`, name: `${op} ax, bx, cl with a masked count of 17..31 (result undefined)`,
    init: { rcx: (r: Rng) => BigInt(17 + r.below(15)) }, undefFlags: CF | OF | SF | ZF | AF | PF, undefRegs: 1,
  });
}

// Precise faults: a non-canonical memory destination raises #GP(0) before anything changes (flags included).
const nonCanonical = (r: Rng): bigint => 0x8000000000000000n | BigInt(r.u32());
for (const asm of ['shl QWORD PTR [rbx], cl', 'rcr BYTE PTR [rbx+1], 1', 'shrd DWORD PTR [rbx], edx, 5', 'sar WORD PTR [rbx], 0']) {
  add({ asm, init: { rbx: nonCanonical }, allFault: true });
}

diffSuite('shift', forms);
printTotals('diff-shift');
