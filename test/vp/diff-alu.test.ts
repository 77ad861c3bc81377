// Differential tests (host CPU vs the VP) for the integer ALU (ops/alu.ts), data movement (ops/mov.ts) and stack
// (ops/stack.ts) groups: every operand size, register (incl. AH..BH and REX byte registers), memory and immediate
// forms. Undefined flags per the Intel SDM vol. 2 "Flags Affected": AND/OR/XOR/TEST leave AF undefined; the
// others here define every flag they touch (and must leave the rest unchanged).
import { AF, DATA, diffSuite, printTotals, type DiffForm, type RegName } from '../support/diff/diff.js';

type Size = 1 | 2 | 4 | 8;
const SIZES: Size[] = [1, 2, 4, 8];

const NAMES: Record<Size, string[]> = {
  8: ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'],
  4: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'],
  2: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'],
  1: ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'],
};
const PTR: Record<Size, string> = { 1: 'BYTE PTR', 2: 'WORD PTR', 4: 'DWORD PTR', 8: 'QWORD PTR' };
const r = (size: Size, n: number): string => NAMES[size][n];

/** Register pairs (dst, src) exercising low registers, REX registers and, for bytes, AH..BH. */
function regPairs(size: Size): [string, string][] {
  const p: [string, string][] = [[r(size, 0), r(size, 3)], [r(size, 9), r(size, 2)], [r(size, 6), r(size, 15)]];
  if (size === 1) p.push(['ah', 'bl'], ['cl', 'bh'], ['dh', 'ch']);
  return p;
}

/**
 * Memory operands (within the data window) with the registers they pin. Bases: absolute disp32, base+disp8,
 * base+index*scale+disp, base+disp32 with REX registers, unaligned addresses.
 */
interface Mem { m: string; init: Partial<Record<RegName, bigint | ((x: { below(n: number): number }) => number)>> }
const MEMS: Mem[] = [
  { m: '[0x200010]', init: {} },
  { m: '[rdi+0x23]', init: { rdi: BigInt(DATA) } },
  { m: '[rsi+rcx*4+0x8]', init: { rsi: BigInt(DATA), rcx: (x) => x.below(24) } },
  { m: '[r13+r9*8-0x8]', init: { r13: BigInt(DATA + 0x40), r9: (x) => x.below(16) } },
  { m: '[rbp+0x101]', init: { rbp: BigInt(DATA) } },
  { m: '[0x200047]', init: {} },
];
/** Registers usable as the other operand of a memory form (not pinned by any MEMS entry). */
const MEM_REGS = [0, 2, 3, 8, 10, 12, 14];

const forms: DiffForm[] = [];
let seq = 0;
function add(f: DiffForm): void { forms.push(f); }
function mem(): Mem { return MEMS[seq++ % MEMS.length]; }
function other(size: Size): string {
  const k = MEM_REGS[seq++ % MEM_REGS.length];
  if (size === 1 && seq % 3 === 0) return ['ah', 'dh', 'bh'][seq % 3];
  return r(size, k);
}
function imm(size: Size, wide: boolean): string {
  if (!wide) return ['0x7f', '-0x80', '1', '-1', '0x35'][seq++ % 5];
  return { 1: '0xc5', 2: '0x8001', 4: '0x80000001', 8: '-0x7ffffffe' }[size];
}

// ---- ADD OR ADC SBB AND SUB XOR CMP
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
for (const op of ALU) {
  const logic = op === 'and' || op === 'or' || op === 'xor';
  const undefFlags = logic ? AF : 0;
  for (const size of SIZES) {
    const pairs = regPairs(size);
    const [d, s] = pairs[seq % pairs.length];
    add({ asm: `${op} ${d}, ${s}`, undefFlags }); // 00/01 (MR)
    const [d2, s2] = pairs[(seq + 1) % pairs.length];
    add({ asm: `{load} ${op} ${d2}, ${s2}`, undefFlags }); // 02/03 (RM) with a register source
    add({ asm: `${op} ${d}, ${d}`, undefFlags }); // same register (zeroing idioms for xor/sub)
    const m1 = mem();
    add({ asm: `${op} ${PTR[size]} ${m1.m}, ${other(size)}`, undefFlags, init: m1.init });
    const m2 = mem();
    add({ asm: `${op} ${other(size)}, ${PTR[size]} ${m2.m}`, undefFlags, init: m2.init });
    add({ asm: `${op} ${r(size, 11)}, ${imm(size, false)}`, undefFlags }); // 80 / 83
    if (size !== 1) add({ asm: `${op} ${r(size, 5)}, ${imm(size, true)}`, undefFlags }); // 81
    if (size === 1) add({ asm: `${op} bh, 0x81`, undefFlags });
    const m3 = mem();
    add({ asm: `${op} ${PTR[size]} ${m3.m}, ${imm(size, false)}`, undefFlags, init: m3.init });
    if (size !== 1) { const m4 = mem(); add({ asm: `${op} ${PTR[size]} ${m4.m}, ${imm(size, true)}`, undefFlags, init: m4.init }); }
    add({ asm: `${op} ${r(size, 0)}, ${imm(size, true)}`, undefFlags }); // 04/05 accumulator forms
  }
}
add({ asm: '.byte 0x82, 0xc0, 0x12', name: 'add al, imm8 (82: #UD in 64-bit mode)', ud: true, allFault: true });

// ---- TEST, INC, DEC, NOT, NEG
for (const size of SIZES) {
  const pairs = regPairs(size);
  const [d, s] = pairs[seq % pairs.length];
  add({ asm: `test ${d}, ${s}`, undefFlags: AF });
  const m1 = mem();
  add({ asm: `test ${PTR[size]} ${m1.m}, ${other(size)}`, undefFlags: AF, init: m1.init });
  add({ asm: `test ${r(size, 13)}, ${imm(size, true)}`, undefFlags: AF }); // F6/F7 /0
  add({ asm: `test ${r(size, 0)}, ${imm(size, true)}`, undefFlags: AF }); // A8/A9
  const m2 = mem();
  add({ asm: `test ${PTR[size]} ${m2.m}, ${imm(size, true)}`, undefFlags: AF, init: m2.init });
  for (const op of ['inc', 'dec', 'not', 'neg']) {
    add({ asm: `${op} ${r(size, 1)}` });
    add({ asm: `${op} ${r(size, 12)}` });
    const m = mem();
    add({ asm: `${op} ${PTR[size]} ${m.m}`, init: m.init });
  }
}
for (const op of ['inc', 'dec', 'not', 'neg', 'test']) add({ asm: op === 'test' ? 'test ch, dh' : `${op} ah`, undefFlags: op === 'test' ? AF : 0 });
add({ asm: '.byte 0xf6, 0xca, 0x5a', name: 'test dl, 0x5a (F6 /1 alias)', undefFlags: AF });
add({ asm: '.byte 0xf7, 0xc9, 0x01, 0x80, 0x00, 0x00', name: 'test ecx, 0x8001 (F7 /1 alias)', undefFlags: AF });

// ---- lazy flags read by conditions: each flag-setting op followed by all 16 SETcc into memory.
const SETCC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const allSet = SETCC.map((c, k) => `set${c} BYTE PTR [0x${(DATA + 0x180 + k).toString(16)}]`).join('; ');
for (const op of ['add', 'adc', 'sub', 'sbb', 'and', 'or', 'xor', 'cmp', 'test']) {
  for (const size of SIZES) {
    add({ asm: `${op} ${r(size, 0)}, ${r(size, 3)}; ${allSet}`, undefFlags: op === 'and' || op === 'or' || op === 'xor' || op === 'test' ? AF : 0 });
  }
}
for (const op of ['inc', 'dec', 'neg']) for (const size of SIZES) add({ asm: `${op} ${r(size, 2)}; ${allSet}` });
add({ asm: `sahf; ${allSet}` });
// CMP operands that are equal, or equal in their high half only (the VP compares recorded operands directly).
add({ asm: `cmp rax, rax; ${allSet}` });
add({ asm: `cmp esi, esi; ${allSet}` });
add({ asm: `mov rbx, rax; add bl, cl; cmp rax, rbx; ${allSet}` });
add({ asm: `mov rbx, rax; sub ebx, ecx; cmp rbx, rax; ${allSet}` });
add({ asm: `mov rbx, rax; xor bh, cl; cmp ax, bx; ${allSet}` });
add({ asm: `mov rbx, rax; xor bh, cl; cmp al, bl; ${allSet}` });

// ---- MOV
for (const size of SIZES) {
  const pairs = regPairs(size);
  const [d, s] = pairs[seq % pairs.length];
  add({ asm: `mov ${d}, ${s}` }); // 88/89
  add({ asm: `{load} mov ${pairs[(seq + 1) % pairs.length].join(', ')}` }); // 8A/8B
  const m1 = mem();
  add({ asm: `mov ${other(size)}, ${PTR[size]} ${m1.m}`, init: m1.init });
  const m2 = mem();
  add({ asm: `mov ${PTR[size]} ${m2.m}, ${other(size)}`, init: m2.init });
  add({ asm: `mov ${r(size, 10)}, ${imm(size, true)}` }); // B0+/B8+ (C7 for 64-bit sign-extended)
  const m3 = mem();
  add({ asm: `mov ${PTR[size]} ${m3.m}, ${imm(size, true)}`, init: m3.init }); // C6/C7
  add({ asm: `movabs ${r(size, 0)}, [0x200028]` }); // A0/A1 moffs64
  add({ asm: `movabs [0x200031], ${r(size, 0)}` }); // A2/A3
}
add({ asm: 'movabs r11, 0x8000000000000001' });
add({ asm: 'mov ah, bh' });
add({ asm: 'mov ch, 0x9c' });
add({ asm: '.byte 0xc7, 0xc1, 0x00, 0x00, 0x00, 0x80', name: 'mov ecx, 0x80000000 (C7 /0 reg)' });
add({ asm: '.byte 0x48, 0xc7, 0xc1, 0x00, 0x00, 0x00, 0x80', name: 'mov rcx, -2^31 (REX.W C7 /0 reg)' });

// ---- MOVZX, MOVSX, MOVSXD
for (const op of ['movzx', 'movsx']) {
  const srcRegs = [0, 3, 6, 7, 9, 15];
  for (const [dsz, ssz] of [[2, 1], [4, 1], [8, 1], [4, 2], [8, 2]] as [Size, Size][]) {
    add({ asm: `${op} ${r(dsz, 8 + (seq++ % 8))}, ${r(ssz, srcRegs[seq++ % srcRegs.length])}` });
    const m = mem();
    add({ asm: `${op} ${other(dsz)}, ${PTR[ssz]} ${m.m}`, init: m.init });
  }
  add({ asm: `${op} eax, ah` });
  add({ asm: `${op} bx, ch` });
}
add({ asm: 'movsxd rax, ebx' });
add({ asm: 'movsxd r12, r13d' });
add({ asm: 'movsxd rdx, DWORD PTR [0x200024]' });
add({ asm: '.byte 0x63, 0xc3', name: 'movsxd eax, ebx (no REX.W: 32-bit move)' });

// ---- LEA (operand sizes 16/32/64; 32-bit address size via 67)
add({ asm: 'lea rax, [rbx+rcx*8+0x12345678]' });
add({ asm: 'lea eax, [rbx+rcx*4-0x10]' });
add({ asm: 'lea ax, [rbx+rsi*2+0x7fff]' });
add({ asm: 'lea r15, [r12+r13*1]' });
add({ asm: 'lea rdx, [rbp+0x0]' });
add({ asm: 'lea rsi, [rcx*8+0x1000]' });
add({ asm: 'lea r8, [rip+0x40]' });
add({ asm: 'lea rax, [ebx+ecx*2+0x10]' });
add({ asm: 'lea ecx, [r8d+r9d]' });
add({ asm: 'lea rdi, [rsp+rax*2]' });

// ---- XCHG
for (const size of SIZES) {
  const pairs = regPairs(size);
  add({ asm: `xchg ${pairs[seq % pairs.length].join(', ')}` });
  const m = mem();
  add({ asm: `xchg ${PTR[size]} ${m.m}, ${other(size)}`, init: m.init });
  if (size !== 1) add({ asm: `xchg ${r(size, 0)}, ${r(size, 14)}` }); // 90+r
}
add({ asm: '.byte 0x87, 0xc0', name: 'xchg eax, eax (87 /r: zero-extends)' });
add({ asm: 'xchg r8, rax' });
add({ asm: '.byte 0x41, 0x90', name: 'xchg eax, r8d (41 90)' });

// ---- CMOVcc (all 16 conditions; register and memory; 16/32/64)
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
CC.forEach((cc, k) => {
  add({ asm: `cmov${cc} ${r(4, k % 8)}, ${r(4, 8 + (k % 8))}` });
  add({ asm: `cmov${cc} ${r(8, 8 + (k % 8))}, ${r(8, k % 8)}` });
  const m = mem();
  add({ asm: `cmov${cc} ${other(k % 2 === 0 ? 2 : 4)}, ${PTR[k % 2 === 0 ? 2 : 4]} ${m.m}`, init: m.init });
  // After a comparison, so the condition comes from lazily recorded flags.
  add({ asm: `cmp ${r(8, 1)}, ${r(8, 2)}; cmov${cc} ${r(8, 3)}, ${r(8, 6)}` });
});

// ---- SETcc
CC.forEach((cc, k) => {
  add({ asm: `set${cc} ${['al', 'bh', 'r10b', 'sil'][k % 4]}` });
  const m = mem();
  add({ asm: `set${cc} BYTE PTR ${m.m}`, init: m.init });
});

// ---- CBW/CWDE/CDQE, CWD/CDQ/CQO
for (const op of ['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo']) add({ asm: op });

// ---- PUSH / POP (RSP starts inside the compared window)
add({ asm: 'push rbx' });
add({ asm: 'push r12' });
add({ asm: 'push bx' });
add({ asm: 'push rsp' });
add({ asm: 'push QWORD PTR [0x200020]' });
add({ asm: 'push WORD PTR [0x200022]' });
add({ asm: 'push 0x12' });
add({ asm: 'push -0x80' });
add({ asm: 'push 0x12345678' });
add({ asm: 'push -0x7fffffff' });
add({ asm: 'pushw 0x1234' });
add({ asm: 'pop rcx' });
add({ asm: 'pop r15' });
add({ asm: 'pop si' });
add({ asm: 'pop rsp' });
add({ asm: 'pop QWORD PTR [0x200018]' });
add({ asm: 'pop WORD PTR [0x200016]' });
add({ asm: 'pop QWORD PTR [rsp]', name: 'pop [rsp] (address computed after the increment)' });
add({ asm: 'pop QWORD PTR [rsp+8]' });
add({ asm: 'push rax; push rbx; pop rcx; pop rdx' });

// ---- ENTER / LEAVE (RBP inside the window; nesting levels read the enclosing frame pointers from it)
add({ asm: 'leave', init: { rbp: BigInt(DATA + 0x100) } });
add({ asm: '.byte 0x66, 0xc9', name: 'leave (16-bit)', init: { rbp: BigInt(DATA + 0x100) } });
add({ asm: 'enter 0x20, 0', init: { rbp: BigInt(DATA + 0x100) } });
add({ asm: 'enter 0x8, 1', init: { rbp: BigInt(DATA + 0x100) } });
add({ asm: 'enter 0x0, 3', init: { rbp: BigInt(DATA + 0x100) } });
add({ asm: 'enter 0x10, 2; leave', init: { rbp: BigInt(DATA + 0x100) } });

// ---- other addressing forms: RIP-relative (the snippet reads its own bytes, identical in both worlds), 32-bit
// address size moffs (67 A1/A3), 16-bit moffs operand (66 A1).
add({ asm: 'mov eax, DWORD PTR [rip-6]', name: 'mov eax, [rip-6] (reads its own encoding)' });
add({ asm: 'movzx ecx, BYTE PTR [rip-2]', name: 'movzx ecx, byte [rip-2]' });
add({ asm: 'add edx, DWORD PTR [rip-6]', name: 'add edx, [rip-6]' });
add({ asm: '.byte 0x67, 0xa1, 0x14, 0x00, 0x20, 0x00', name: 'mov eax, [0x200014] (67 A1, 32-bit moffs)' });
add({ asm: '.byte 0x67, 0x48, 0xa3, 0x2c, 0x00, 0x20, 0x00', name: 'mov [0x20002c], rax (67 REX.W A3)' });
add({ asm: '.byte 0x66, 0x67, 0xa1, 0x16, 0x00, 0x20, 0x00', name: 'mov ax, [0x200016] (66 67 A1)' });

// ---- LAHF SAHF CLC STC CMC (and CLD/STD: DF is compared)
for (const op of ['lahf', 'sahf', 'clc', 'stc', 'cmc', 'cld', 'std']) add({ asm: op });
add({ asm: 'add eax, ebx; lahf' });
add({ asm: 'sub al, bl; cmc; lahf' });
add({ asm: 'inc ecx; stc; lahf' });
add({ asm: 'sahf; adc rax, rbx' });
add({ asm: 'dec r8; sbb r9d, 1' });

// ---- precise faults: a non-canonical data address raises #GP(0) and leaves every register and the memory
// as they were before the faulting instruction (earlier instructions of the snippet have retired). PUSH/POP/CALL
// with such an operand fault on the operand (#GP), not on the stack (#SS: SDM vol. 2, PUSH/POP/CALL exceptions).
const nonCanonical = (x: { u32(): number }): bigint => 0x8000000000000000n | BigInt(x.u32());
for (const asm of ['mov eax, [rbx]', 'add [rbx+8], ecx', 'inc eax; mov ecx, [rbx]; inc edx', 'xchg [rbx], rax',
  'pop QWORD PTR [rbx]', 'push QWORD PTR [rbx]', 'movzx eax, BYTE PTR [rbx]', 'cmovno eax, [rbx]', 'sete BYTE PTR [rbx]',
  'neg QWORD PTR [rbx+rcx*8]', 'add eax, 1; push rax; mov [rbx], al', 'call QWORD PTR [rbx]']) {
  add({ asm, init: { rbx: nonCanonical, rcx: (x) => x.below(1 << 20) }, allFault: true });
}
// Non-canonical stack references raise #SS(0).
for (const asm of ['push rax', 'pop rcx', 'mov rax, [rsp+8]', 'add [rbp-8], ecx', 'pop QWORD PTR [rsp]']) {
  add({ asm, init: { rsp: nonCanonical, rbp: nonCanonical }, allFault: true });
}

// ---- LOCK: accepted on read-modify-write forms with a memory destination, #UD everywhere else.
for (const asm of ['lock add DWORD PTR [0x200010], eax', 'lock or BYTE PTR [0x200011], bh', 'lock adc QWORD PTR [0x200018], r9',
  'lock sbb WORD PTR [0x200020], 0x1234', 'lock and DWORD PTR [0x200024], -2', 'lock sub QWORD PTR [0x200028], 7',
  'lock xor BYTE PTR [0x200030], 0x81', 'lock inc DWORD PTR [0x200034]', 'lock dec WORD PTR [0x200038]',
  'lock not QWORD PTR [0x200040]', 'lock neg BYTE PTR [0x200048]', 'lock xchg QWORD PTR [0x200050], rcx']) {
  add({ asm, undefFlags: /lock (or|and|xor)/.test(asm) ? AF : 0 });
}
for (const [bytes, name] of [
  ['0xf0, 0x01, 0xd8', 'lock add eax, ebx (register destination)'],
  ['0xf0, 0x39, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00', 'lock cmp [0x200010], eax'],
  ['0xf0, 0x89, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00', 'lock mov [0x200010], eax'],
  ['0xf0, 0x85, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00', 'lock test [0x200010], eax'],
  ['0xf0, 0xd1, 0x24, 0x25, 0x10, 0x00, 0x20, 0x00', 'lock shl DWORD PTR [0x200010], 1'],
  ['0xf0, 0xf7, 0x24, 0x25, 0x10, 0x00, 0x20, 0x00', 'lock mul DWORD PTR [0x200010]'],
  ['0xf0, 0x0f, 0xa4, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00, 0x03', 'lock shld [0x200010], eax, 3'],
  ['0xf0, 0x50', 'lock push rax'],
  ['0xf0, 0x8d, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00', 'lock lea eax, [0x200010]'],
]) add({ asm: `.byte ${bytes}`, name, ud: true, allFault: true });

diffSuite('alu, mov, stack', forms);
printTotals('diff-alu');
