// Differential tests (host CPU vs the VP) for the SSE/SSE2 groups (ops/sse-*.ts).
//
// The harness compares GPRs, flags and a data window; XMM registers and MXCSR travel through that window: every
// snippet starts by loading MXCSR and XMM0-15 from the window (LDMXCSR, MOVDQU) and ends by storing them back
// (MOVDQU, STMXCSR) and restoring the default MXCSR, so the host's and the VP's registers after the instruction
// are compared bit for bit (NaN payloads included), with the MXCSR exception flags. Lane values are drawn from
// edge-biased distributions per lane type: signed zeros, infinities, quiet and signalling NaNs with payloads,
// denormals, the largest/smallest finite values, rounding ties, integer-conversion boundaries, then random
// values; lanes are often copied between registers so that compares see equal operands and subtractions cancel.
// MXCSR starts with a random rounding mode, random sticky flags, and sometimes DAZ and/or FTZ (all exceptions
// masked; unmasked exceptions are processor tests in sse-faults.test.ts).
import { diffSuite, printTotals, type DiffForm } from '../support/diff/diff.js';
import { MEM, memFill, type Spec, WINDOW, wrap } from '../support/diff/xmm.js';

let forms: DiffForm[] = [];
/** Run the forms added since the last call as one suite. */
function suite(name: string): void {
  diffSuite(name, forms, { window: WINDOW, maxReports: 1 });
  forms = [];
}
let memSlot = 0;
function addForm(insn: string, spec: Spec, extra: Partial<DiffForm> = {}): void {
  forms.push({ asm: wrap(insn), name: insn, mem: memFill(spec), ...extra });
}

const PTR: Record<number, string> = { 4: 'DWORD PTR', 8: 'QWORD PTR', 16: 'XMMWORD PTR', 2: 'WORD PTR' };
function memOp(size: number): string {
  const off = (memSlot++ % 15) * 16 + (size === 16 ? 0 : (memSlot % (16 / size)) * size);
  return `${PTR[size]} [${MEM + off}]`;
}

/** xmm, xmm/m forms: low registers, REX registers, the same register twice, memory with a REX destination. */
function xx(mn: string, spec: Spec, msize = 16, imm = ''): void {
  const i = imm === '' ? '' : `, ${imm}`;
  addForm(`${mn} xmm1, xmm2${i}`, spec);
  addForm(`${mn} xmm9, xmm14${i}`, spec);
  addForm(`${mn} xmm3, xmm3${i}`, spec);
  addForm(`${mn} xmm12, ${memOp(msize)}${i}`, spec);
  addForm(`${mn} xmm0, ${memOp(msize)}${i}`, spec);
}

const F32: Spec = { kind: 'f32', mx: true };
const F64: Spec = { kind: 'f64', mx: true };
const INT: Spec = { kind: 'int' };

// ---- moves
for (const mn of ['movaps', 'movups', 'movapd', 'movupd', 'movdqa', 'movdqu']) xx(mn, INT);
for (const [mn, size] of [['movss', 4], ['movsd', 8]] as const) {
  xx(mn, INT, size);
  addForm(`${mn} ${memOp(size)}, xmm5`, INT);
  addForm(`${mn} ${memOp(size)}, xmm13`, INT);
}
for (const mn of ['movaps', 'movups', 'movapd', 'movupd', 'movdqa', 'movdqu', 'movntps', 'movntpd', 'movntdq']) {
  addForm(`${mn} ${memOp(16)}, xmm6`, INT);
  addForm(`${mn} ${memOp(16)}, xmm11`, INT);
}
addForm('movups XMMWORD PTR [0x200023], xmm7', INT);
addForm('movdqu xmm10, XMMWORD PTR [0x200039]', INT);
for (const mn of ['movlps', 'movhps', 'movlpd', 'movhpd']) {
  addForm(`${mn} xmm4, ${memOp(8)}`, INT);
  addForm(`${mn} xmm15, ${memOp(8)}`, INT);
  addForm(`${mn} ${memOp(8)}, xmm8`, INT);
  addForm(`${mn} ${memOp(8)}, xmm1`, INT);
}
for (const mn of ['movhlps', 'movlhps']) { addForm(`${mn} xmm1, xmm2`, INT); addForm(`${mn} xmm13, xmm6`, INT); addForm(`${mn} xmm5, xmm5`, INT); }
addForm('movd xmm1, eax', INT); addForm('movd xmm13, r9d', INT); addForm(`movd xmm2, ${memOp(4)}`, INT);
addForm('movq xmm1, rax', INT); addForm('movq xmm13, r9', INT);
addForm('movd eax, xmm1', INT); addForm('movd r10d, xmm12', INT); addForm(`movd ${memOp(4)}, xmm3`, INT);
addForm('movq rax, xmm1', INT); addForm('movq r11, xmm15', INT);
addForm('.byte 0x66, 0x48, 0x0f, 0x6e, 0x06', INT, { name: 'movq xmm0, [rsi] (66 REX.W 0F 6E)', init: { rsi: BigInt(MEM + 0x30) } });
addForm('.byte 0x66, 0x48, 0x0f, 0x7e, 0x0e', INT, { name: 'movq [rsi], xmm1 (66 REX.W 0F 7E)', init: { rsi: BigInt(MEM + 0x48) } });
addForm('movq xmm1, xmm2', INT); addForm('movq xmm9, xmm3', INT); addForm(`movq xmm14, ${memOp(8)}`, INT);
addForm('.byte 0x66, 0x0f, 0xd6, 0xd1', INT, { name: 'movq xmm1, xmm2 (66 0F D6)' });
addForm(`movq ${memOp(8)}, xmm7`, INT); addForm(`movq ${memOp(8)}, xmm12`, INT);
for (const mn of ['movmskps', 'movmskpd', 'pmovmskb']) {
  addForm(`${mn} eax, xmm1`, INT); addForm(`${mn} r12d, xmm9`, INT); addForm(`${mn} ecx, xmm15`, INT);
}
addForm('movnti DWORD PTR [0x200044], esi', INT); addForm('movnti QWORD PTR [0x200048], r14', INT);
addForm('maskmovdqu xmm1, xmm2', INT, { init: { rdi: BigInt(MEM + 0x20) } });
addForm('maskmovdqu xmm11, xmm4', INT, { init: { rdi: BigInt(MEM + 0x37) } });

suite('sse moves');

// ---- packed integer
for (const mn of [
  'pand', 'pandn', 'por', 'pxor', 'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq',
  'paddsb', 'paddsw', 'paddusb', 'paddusw', 'psubsb', 'psubsw', 'psubusb', 'psubusw', 'pcmpeqb', 'pcmpeqw',
  'pcmpeqd', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd', 'pminub', 'pmaxub', 'pminsw', 'pmaxsw', 'pmullw', 'pmulhw',
  'pmulhuw', 'pmuludq', 'pmaddwd', 'psadbw', 'pavgb', 'pavgw', 'andps', 'andnps', 'orps', 'xorps', 'andpd',
  'andnpd', 'orpd', 'xorpd',
]) xx(mn, INT);
for (const mn of ['psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad']) {
  xx(mn, { kind: 'int', srcKind: 'count' });
  for (const n of [0, 1, 7, 15, 16, 31, 33, 63, 64, 200]) addForm(`${mn} xmm${n % 16}, ${n}`, INT);
}
for (const mn of ['psrldq', 'pslldq']) for (const n of [0, 1, 3, 8, 15, 16, 255]) addForm(`${mn} xmm${(n * 5) % 16}, ${n}`, INT);

suite('sse packed integer');

// ---- shuffles, unpacks, packs
for (const imm of [0x1b, 0x00, 0xe4, 0x4e, 0xb1, 0xff]) {
  for (const mn of ['pshufd', 'pshufhw', 'pshuflw']) xx(mn, INT, 16, `0x${imm.toString(16)}`);
  xx('shufps', INT, 16, `0x${imm.toString(16)}`);
}
for (const imm of [0, 1, 2, 3]) xx('shufpd', INT, 16, `${imm}`);
for (const mn of [
  'punpcklbw', 'punpcklwd', 'punpckldq', 'punpcklqdq', 'punpckhbw', 'punpckhwd', 'punpckhdq', 'punpckhqdq',
  'unpcklps', 'unpckhps', 'unpcklpd', 'unpckhpd', 'packsswb', 'packssdw', 'packuswb',
]) xx(mn, INT);
for (const n of [0, 3, 7, 9]) {
  addForm(`pinsrw xmm1, eax, ${n}`, INT); addForm(`pinsrw xmm10, r13d, ${n}`, INT); addForm(`pinsrw xmm4, ${memOp(2)}, ${n}`, INT);
  addForm(`pextrw eax, xmm1, ${n}`, INT); addForm(`pextrw r9d, xmm14, ${n}`, INT);
}

suite('sse shuffles');

// ---- floating-point arithmetic
for (const op of ['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt']) {
  xx(`${op}ps`, F32); xx(`${op}pd`, F64); xx(`${op}ss`, F32, 4); xx(`${op}sd`, F64, 8);
}
// RCP/RSQRT approximations: bit-exact only where the result is exact (specials); tolerance test in sse-faults.
xx('rcpps', { kind: 'special32' }); xx('rcpss', { kind: 'special32' }, 4);
xx('rsqrtps', { kind: 'special32s' }); xx('rsqrtss', { kind: 'special32s' }, 4);

suite('sse float arithmetic');

// ---- compares
for (let p = 0; p < 8; p++) {
  xx('cmpps', F32, 16, `${p}`); xx('cmppd', F64, 16, `${p}`); xx('cmpss', F32, 4, `${p}`); xx('cmpsd', F64, 8, `${p}`);
}
for (const mn of ['comiss', 'ucomiss']) xx(mn, F32, 4);
for (const mn of ['comisd', 'ucomisd']) xx(mn, F64, 8);

suite('sse compares');

// ---- conversions
for (const [mn, src] of [['cvtsi2ss', 'ss'], ['cvtsi2sd', 'sd']] as const) {
  void src;
  for (const r of ['eax', 'r11d', 'rax', 'r11']) addForm(`${mn} xmm3, ${r}`, F32);
  addForm(`${mn} xmm9, ${memOp(4)}`, F32); addForm(`${mn} xmm1, ${memOp(8)}`, { kind: 'int', mx: true });
  addForm(`${mn} xmm8, rcx`, F32, { init: { rcx: (r) => r.u64() >> BigInt(r.below(64)) } });
}
for (const mn of ['cvtss2si', 'cvttss2si']) {
  for (const r of ['eax', 'r10d', 'rax', 'r10']) addForm(`${mn} ${r}, xmm2`, F32);
  addForm(`${mn} ecx, ${memOp(4)}`, F32); addForm(`${mn} r15, ${memOp(4)}`, F32);
}
for (const mn of ['cvtsd2si', 'cvttsd2si']) {
  for (const r of ['eax', 'r10d', 'rax', 'r10']) addForm(`${mn} ${r}, xmm2`, F64);
  addForm(`${mn} ecx, ${memOp(8)}`, F64); addForm(`${mn} r15, ${memOp(8)}`, F64);
}
xx('cvtss2sd', F32, 4); xx('cvtsd2ss', F64, 8);
xx('cvtps2pd', F32, 8); xx('cvtpd2ps', F64);
xx('cvtdq2ps', { kind: 'i32', mx: true }); xx('cvtps2dq', F32); xx('cvttps2dq', F32);
xx('cvtdq2pd', { kind: 'i32', mx: true }, 8); xx('cvtpd2dq', F64); xx('cvttpd2dq', F64);

suite('sse conversions');

// ---- MXCSR, FXSAVE/FXRSTOR
addForm(`stmxcsr ${memOp(4)}`, F32);
addForm('ldmxcsr DWORD PTR [0x200044]', INT, {
  mem: (r, b) => { memFill(INT)(r, b); new DataView(b.buffer, b.byteOffset).setUint32(0x44, (r.u32() & 0xffff & ~0x3f) | 0x1f80 | r.below(64), true); },
});
// FXSAVE64/FXRSTOR64 with a known x87 state (eight loaded constants): the 512-byte area lands in the window.
// Two fields are host-specific and neutralised after each FXSAVE (both are checked in sse-faults.test.ts):
// MXCSR_MASK (this AMD host also supports MXCSR.MM, bit 17: 0x2FFFF; the VP reports 0xFFFF) and FOP/FIP/FDP,
// which AMD processors store as zero while FSW.ES is clear (the VP saves them, as Intel processors do).
{
  const scrub = 'and DWORD PTR [0x20001c], 0xffff; mov WORD PTR [0x200006], 0; '
    + 'mov QWORD PTR [0x200008], 0; mov QWORD PTR [0x200010], 0';
  addForm(`fninit; fld1; fldpi; fldl2t; fldz; fld1; fldlg2; fldln2; fldl2e; fxsave64 [0x200000]; ${scrub}; `
    + `fxrstor64 [0x200000]; fxsave64 [0x200000]; ${scrub}`, F32, { name: 'x87 constants; fxsave64/fxrstor64', cases: 200 });
}

suite('sse mxcsr/fxsave');

// ---- alignment: aligned forms #GP(0) on a misaligned operand, unaligned and scalar forms do not
for (const insn of ['movaps xmm1, XMMWORD PTR [0x200008]', 'movdqa xmm9, XMMWORD PTR [0x200014]', 'addps xmm2, XMMWORD PTR [0x200004]',
  'pxor xmm3, XMMWORD PTR [0x200001]', 'pcmpeqb xmm3, XMMWORD PTR [0x20000c]', 'movntdq XMMWORD PTR [0x200008], xmm1',
  'movapd XMMWORD PTR [0x200018], xmm4', 'cvtdq2ps xmm1, XMMWORD PTR [0x200004]', 'pshufd xmm1, XMMWORD PTR [0x200002], 1',
  'fxsave64 [0x200008]', 'fxrstor64 [0x200004]']) {
  addForm(insn, INT, { allFault: true, cases: 200 });
}
for (const insn of ['movups xmm1, XMMWORD PTR [0x200008]', 'addss xmm2, DWORD PTR [0x200005]', 'addsd xmm2, QWORD PTR [0x200003]',
  'movlps xmm4, QWORD PTR [0x200003]', 'cvtps2pd xmm1, QWORD PTR [0x200004]', 'comiss xmm1, DWORD PTR [0x200001]']) {
  addForm(insn, F32);
}

// ---- forms CPUID does not report must stay #UD (SSE3, SSSE3, SSE4; MMX-register forms are diff-mmx.test.ts's)
// (The host has these instructions, so they run on the host only in sse-faults.test.ts's expectations.)

suite('sse alignment');
printTotals('diff-sse');
