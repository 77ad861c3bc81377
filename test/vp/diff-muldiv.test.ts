// Differential tests (host CPU vs the VP) for multiply and divide (ops/muldiv.ts): MUL/IMUL/DIV/IDIV (F6/F7 /4../7)
// in every operand size with register (incl. AH..BH, REX byte registers) and memory operands, IMUL r, r/m (0F AF),
// IMUL r, r/m, imm16/32 (69) and imm8 (6B). Divisions include #DE cases (zero divisor, quotient overflow, the
// INT_MIN / -1 case): the VP must raise #DE at the same instruction with every register unchanged.
//
// Undefined flags, Intel SDM vol. 2 "Flags Affected": MUL/IMUL define only CF and OF (SF, ZF, AF, PF undefined);
// DIV/IDIV leave all six undefined.
import {
  AF, ARITH, DATA, diffSuite, PF, printTotals, SF, ZF, type CaseSetup, type DiffForm, type RegName, type Rng,
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
const MUL_UNDEF = SF | ZF | AF | PF;

const forms: DiffForm[] = [];
const add = (f: DiffForm): void => { forms.push(f); };

const MASK: Record<Size, bigint> = { 1: 0xffn, 2: 0xffffn, 4: 0xffffffffn, 8: 0xffffffffffffffffn };

/** Where a form's divisor lives: a register (low byte of ah..bh handled by the caller) or a data window offset. */
type Src = { reg: RegName; high?: boolean } | { mem: number };

function readSrc(c: CaseSetup, src: Src, size: Size): bigint {
  if ('mem' in src) {
    let v = 0n;
    for (let k = size - 1; k >= 0; k--) v = (v << 8n) | BigInt(c.mem[src.mem + k]);
    return v;
  }
  const r = c.reg(src.reg);
  return src.high ? (r >> 8n) & 0xffn : r & MASK[size];
}

function writeSrc(c: CaseSetup, src: Src, size: Size, v: bigint): void {
  v &= MASK[size];
  if ('mem' in src) {
    for (let k = 0; k < size; k++) c.mem[src.mem + k] = Number((v >> BigInt(8 * k)) & 0xffn);
    return;
  }
  const old = c.reg(src.reg);
  if (src.high) c.set(src.reg, (old & ~0xff00n) | (v << 8n));
  else c.set(src.reg, (old & ~MASK[size]) | v);
}

function signed(v: bigint, size: Size): bigint {
  return BigInt.asIntN(size * 8, v);
}

/**
 * Make divisions interesting: most cases get a dividend whose high part is below the divisor (no overflow), with
 * full-width random low parts; some keep random values (overflow, #DE), some use the edge cases (zero divisor,
 * INT_MIN / -1, divisor 1, dividend = divisor * q + r at the limits). The dividend is AX for bytes, else rDX:rAX.
 */
function divSetup(size: Size, src: Src, isSigned: boolean): (r: Rng, c: CaseSetup) => void {
  const bits = BigInt(size * 8);
  const setDividend = (c: CaseSetup, hi: bigint, lo: bigint): void => {
    if (size === 1) {
      const ax = ((hi & 0xffn) << 8n) | (lo & 0xffn);
      c.set('rax', (c.reg('rax') & ~0xffffn) | ax);
      return;
    }
    c.set('rax', (c.reg('rax') & ~MASK[size]) | (lo & MASK[size]));
    c.set('rdx', (c.reg('rdx') & ~MASK[size]) | (hi & MASK[size]));
  };
  return (r, c) => {
    const mode = r.below(16);
    if (mode < 2) return; // as generated: mostly overflow or zero-divisor #DE
    if (mode === 2) { writeSrc(c, src, size, 0n); return; } // #DE: division by zero
    if (mode === 3 && isSigned) { // INT_MIN / -1: #DE; or INT_MIN / 1 (fits)
      writeSrc(c, src, size, r.below(2) === 0 ? MASK[size] : 1n);
      setDividend(c, MASK[size], 1n << (bits - 1n));
      return;
    }
    let d = readSrc(c, src, size);
    if (d === 0n) { d = BigInt(1 + r.below(7)); writeSrc(c, src, size, d); }
    if (!isSigned) {
      // high part < divisor: quotient fits; sometimes the largest quotient (hi = d - 1)
      const hi = mode === 4 ? d - 1n : r.u64() % d;
      setDividend(c, hi, r.value());
      return;
    }
    // Signed: pick a quotient and remainder in range and build the dividend q*d + rem (rem has the dividend's
    // sign and |rem| < |d|).
    const ds = signed(d, size);
    const qmax = (1n << (bits - 1n)) - 1n;
    let q: bigint;
    if (mode === 4) q = qmax;
    else if (mode === 5) q = -qmax - 1n;
    else q = signed(r.value(), size) >> BigInt(r.below(size * 8));
    const absD = ds < 0n ? -ds : ds;
    let rem = r.u64() % absD;
    let n = q * ds;
    if (n < 0n || (n === 0n && r.below(2) === 0)) rem = -rem;
    n += rem;
    // The dividend must still be representable in 2*size bytes and the quotient must truncate to q: if the
    // remainder's sign disagrees with the dividend's, drop it.
    if ((n < 0n) !== (rem < 0n) && rem !== 0n) n -= rem;
    const all = BigInt.asUintN(size * 16, n);
    setDividend(c, all >> bits, all & MASK[size]);
  };
}

let seq = 0;
const MEMOFF = [0x10, 0x23, 0x48];

// ---- F6/F7: MUL IMUL DIV IDIV
for (const op of ['mul', 'imul', 'div', 'idiv'] as const) {
  const isDiv = op === 'div' || op === 'idiv';
  const isSigned = op === 'imul' || op === 'idiv';
  for (const size of SIZES) {
    // Operand registers that are neither the accumulator nor rDX.
    const regs: Src[] = size === 1
      ? [{ reg: 'rbx' }, { reg: 'rbx', high: true }, { reg: 'rcx', high: true }, { reg: 'r9' }, { reg: 'rsi' }]
      : [{ reg: 'rbx' }, { reg: 'r9' }, { reg: 'rsi' }, { reg: 'r14' }];
    const srcs: Src[] = [...regs.slice(0, 3), { mem: MEMOFF[seq++ % 3] }, { mem: MEMOFF[seq++ % 3] }];
    if (size === 1) srcs.push({ reg: 'r9' }, { reg: 'rsi' }); // REX byte registers (r9b, sil)
    for (const src of srcs) {
      let operand: string;
      if ('mem' in src) operand = `${PTR[size]} [0x${(DATA + src.mem).toString(16)}]`;
      else if (src.high) operand = { rbx: 'bh', rcx: 'ch' }[src.reg as 'rbx' | 'rcx'];
      else operand = NAMES[size][['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'].indexOf(src.reg)];
      add({
        asm: `${op} ${operand}`,
        undefFlags: isDiv ? ARITH : MUL_UNDEF,
        ...(isDiv ? { setup: divSetup(size, src, isSigned) } : {}),
      });
    }
    // Operands aliasing the dividend / multiplicand (AL, AH, rAX, rDX): random values, #DE allowed.
    for (const alias of size === 1 ? ['al', 'ah'] : [NAMES[size][0], NAMES[size][2]]) {
      add({ asm: `${op} ${alias}`, undefFlags: isDiv ? ARITH : MUL_UNDEF, allFault: isDiv });
    }
  }
}

// Division after a multiply (flags and registers flow from one to the other) and a precise #DE in the middle.
add({ asm: 'mul rbx; div rcx', undefFlags: ARITH, allFault: false, init: { rcx: (r: Rng) => (r.u64() | 1n) } });
add({ asm: 'inc r8; div ecx; inc r9', undefFlags: ARITH, init: { rcx: 0n }, allFault: true });

// ---- IMUL r, r/m (0F AF), IMUL r, r/m, imm (69 / 6B)
const WIDE: Record<2 | 4 | 8, string[]> = {
  2: ['0x7fff', '-0x8000', '0x1234', '-3'],
  4: ['0x7fffffff', '-0x80000000', '0x12345', '-0x10001'],
  8: ['0x7fffffff', '-0x80000000', '0x10001', '-0x55555555'],
};
for (const size of [2, 4, 8] as Size[]) {
  const n = NAMES[size];
  add({ asm: `imul ${n[0]}, ${n[3]}`, undefFlags: MUL_UNDEF });
  add({ asm: `imul ${n[10]}, ${n[6]}`, undefFlags: MUL_UNDEF });
  add({ asm: `imul ${n[5]}, ${n[5]}`, undefFlags: MUL_UNDEF });
  add({ asm: `imul ${n[2]}, ${PTR[size]} [0x200018]`, undefFlags: MUL_UNDEF });
  add({ asm: `imul ${n[12]}, ${PTR[size]} [rdi+0x31]`, undefFlags: MUL_UNDEF, init: { rdi: BigInt(DATA) } });
  const wide = WIDE[size as 2 | 4 | 8];
  wide.forEach((imm, k) => {
    add({ asm: `imul ${n[k % 2 === 0 ? 1 : 9]}, ${n[k % 2 === 0 ? 3 : 14]}, ${imm}`, undefFlags: MUL_UNDEF }); // 69
  });
  for (const imm of ['0x7f', '-0x80', '-1', '3']) add({ asm: `imul ${n[7]}, ${n[11]}, ${imm}`, undefFlags: MUL_UNDEF }); // 6B
  add({ asm: `imul ${n[0]}, ${PTR[size]} [0x200040], ${wide[0]}`, undefFlags: MUL_UNDEF });
  add({ asm: `imul ${n[13]}, ${PTR[size]} [0x200051], -0x7f`, undefFlags: MUL_UNDEF });
  add({ asm: `imul ${n[4 + 4]}, ${n[8]}, 0x5`, undefFlags: MUL_UNDEF }); // same register, 6B
}

// Flags after MUL/IMUL read through conditions (only CF/OF-based conditions are defined).
for (const asm of ['mul rbx', 'imul ecx', 'imul r9w, r10w', 'imul rax, rbx, -7', 'mul bl']) {
  add({ asm: `${asm}; setc BYTE PTR [0x200180]; seto BYTE PTR [0x200181]; setnc BYTE PTR [0x200182]; setno BYTE PTR [0x200183]`, undefFlags: MUL_UNDEF });
}

// A non-canonical operand raises #GP(0), not #DE, even with a zero divisor's worth of garbage around it.
const nonCanonical = (r: Rng): bigint => 0x8000000000000000n | BigInt(r.u32());
for (const asm of ['div QWORD PTR [rbx]', 'idiv BYTE PTR [rbx+3]', 'mul DWORD PTR [rbx]', 'imul rcx, QWORD PTR [rbx], 9']) {
  add({ asm, init: { rbx: nonCanonical }, allFault: true });
}

diffSuite('muldiv', forms);
printTotals('diff-muldiv');
