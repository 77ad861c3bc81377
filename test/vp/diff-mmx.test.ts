// Differential tests (host CPU vs the VP) for the MMX groups (ops/mmx-*.ts): every MMX instruction and every SSE/SSE2
// instruction on MM registers, in register and memory forms (REX prefixes, which MMX operands ignore, included).
// Each snippet restores a random x87/MMX/SSE state with FXRSTOR64 (random TOP, tags, exponents, MM0-7, XMM0-15,
// MXCSR) and dumps it back with FXSAVE64 and FNSTENV (test/support/diff/mmx.ts), so MM registers, the all-ones
// exponents MMX writes leave, TOP, both tag words, FSW, XMM registers, MXCSR, memory, GPRs and EFLAGS are compared
// bit for bit. Also: the x87 view of MMX registers (FSTP m80 after an MMX write, FLD after EMMS or without it),
// #MF for a pending unmasked x87 exception (and CVTPI2PD m64, which takes none), #GP(0) for a misaligned
// CVTPD2PI operand, and #UD for MMX encodings that do not exist (byte shifts, memory forms of register-only ones).
import { diffSuite, printTotals, type DiffForm } from '../support/diff/diff.js';
import { MEM, memFill, type Spec, STORE, WINDOW, wrap } from '../support/diff/mmx.js';

let forms: DiffForm[] = [];
function suite(name: string): void {
  diffSuite(name, forms, { window: WINDOW, maxReports: 1 });
  forms = [];
}
function addForm(insn: string, spec: Spec, extra: Partial<DiffForm> = {}): void {
  forms.push({ asm: wrap(insn), name: insn, mem: memFill(spec), ...extra });
}

let memSlot = 0;
const PTR: Record<number, string> = { 2: 'WORD PTR', 4: 'DWORD PTR', 8: 'QWORD PTR', 16: 'XMMWORD PTR' };
/** A memory operand in the operand area, at varying alignment (MMX operands need none). */
function memOp(size: number): string {
  const n = memSlot++;
  const off = (n % 15) * 16 + (size === 16 ? 0 : (n * 3) % (17 - size));
  return `${PTR[size]} [${MEM + off}]`;
}
const hex = (n: number): string => '0x' + n.toString(16);

const INT: Spec = { kind: 'int' };
const COUNT: Spec = { kind: 'int', srcKind: 'count' };

/** mm, mm/m64 forms: different registers, the same register twice, memory sources. */
function mm(mn: string, spec: Spec, msize = 8, imm = ''): void {
  const i = imm === '' ? '' : `, ${imm}`;
  addForm(`${mn} mm1, mm2${i}`, spec);
  addForm(`${mn} mm7, mm6${i}`, spec);
  addForm(`${mn} mm3, mm3${i}`, spec);
  addForm(`${mn} mm0, ${memOp(msize)}${i}`, spec);
  addForm(`${mn} mm5, ${memOp(msize)}${i}`, spec);
}

/** `mn mm1, mm2` with REX.R and REX.B (an MMX register number is three bits: both are ignored). */
function rex(mn: string, opcode: number, spec: Spec, imm?: number): void {
  const tail = imm === undefined ? '' : `, ${hex(imm)}`;
  addForm(`.byte 0x45, 0x0f, ${hex(opcode)}, 0xca${tail}`, spec, { name: `${mn} mm1, mm2 with REX.RB${tail}` });
}

// ---- packed integer (MMX, and SSE/SSE2 on MM registers)
const INT_OPS: [string, number][] = [
  ['pand', 0xdb], ['pandn', 0xdf], ['por', 0xeb], ['pxor', 0xef], ['paddb', 0xfc], ['paddw', 0xfd], ['paddd', 0xfe],
  ['paddq', 0xd4], ['psubb', 0xf8], ['psubw', 0xf9], ['psubd', 0xfa], ['psubq', 0xfb], ['paddsb', 0xec],
  ['paddsw', 0xed], ['paddusb', 0xdc], ['paddusw', 0xdd], ['psubsb', 0xe8], ['psubsw', 0xe9], ['psubusb', 0xd8],
  ['psubusw', 0xd9], ['pcmpeqb', 0x74], ['pcmpeqw', 0x75], ['pcmpeqd', 0x76], ['pcmpgtb', 0x64], ['pcmpgtw', 0x65],
  ['pcmpgtd', 0x66], ['pmullw', 0xd5], ['pmulhw', 0xe5], ['pmaddwd', 0xf5], ['pavgb', 0xe0], ['pavgw', 0xe3],
  ['pminub', 0xda], ['pmaxub', 0xde], ['pminsw', 0xea], ['pmaxsw', 0xee], ['pmulhuw', 0xe4], ['psadbw', 0xf6],
  ['pmuludq', 0xf4],
];
for (const [mn, op] of INT_OPS) { mm(mn, INT); rex(mn, op, INT); }
const SHIFTS: [string, number, number, number][] = [
  // mnemonic, mm/m64 opcode, imm group opcode, /r (-1: no imm form)
  ['psllw', 0xf1, 0x71, 6], ['pslld', 0xf2, 0x72, 6], ['psllq', 0xf3, 0x73, 6], ['psrlw', 0xd1, 0x71, 2],
  ['psrld', 0xd2, 0x72, 2], ['psrlq', 0xd3, 0x73, 2], ['psraw', 0xe1, 0x71, 4], ['psrad', 0xe2, 0x72, 4],
];
for (const [mn, op, grp, r] of SHIFTS) {
  mm(mn, COUNT);
  rex(mn, op, COUNT);
  for (const n of [0, 1, 7, 15, 16, 31, 32, 33, 63, 64, 200]) addForm(`${mn} mm${n % 8}, ${n}`, INT);
  // REX.B on the imm form: .byte REX, 0F, group, ModRM (mod 3, /r, rm = mm3), imm8
  addForm(`.byte 0x41, 0x0f, ${hex(grp)}, ${hex(0xc3 | (r << 3))}, 0x05`, INT, { name: `${mn} mm3, 5 with REX.B` });
}

suite('mmx packed integer');

// ---- shuffles, interleaves, packs, word insert/extract
for (const mn of ['punpcklbw', 'punpcklwd', 'punpckldq']) mm(mn, INT, 4);
for (const mn of ['punpckhbw', 'punpckhwd', 'punpckhdq', 'packsswb', 'packssdw', 'packuswb']) mm(mn, INT);
rex('punpcklbw', 0x60, INT); rex('packssdw', 0x6b, INT);
for (const imm of [0x1b, 0x00, 0xe4, 0x4e, 0xb1, 0xff]) mm('pshufw', INT, 8, hex(imm));
rex('pshufw', 0x70, INT, 0x1b);
for (const n of [0, 1, 2, 3, 6]) {
  addForm(`pinsrw mm1, eax, ${n}`, INT); addForm(`pinsrw mm4, r13d, ${n}`, INT); addForm(`pinsrw mm2, ${memOp(2)}, ${n}`, INT);
  addForm(`pextrw eax, mm1, ${n}`, INT); addForm(`pextrw r9d, mm5, ${n}`, INT);
}

suite('mmx shuffles');

// ---- moves
addForm('movd mm1, eax', INT); addForm('movd mm4, r10d', INT); addForm(`movd mm2, ${memOp(4)}`, INT);
addForm('movq mm1, rax', INT); addForm('movq mm7, r15', INT);
addForm('movd eax, mm1', INT); addForm('movd r9d, mm3', INT); addForm(`movd ${memOp(4)}, mm4`, INT);
addForm('movq rax, mm2', INT); addForm('movq r12, mm6', INT);
addForm('.byte 0x48, 0x0f, 0x6e, 0x06', INT, { name: 'movq mm0, [rsi] (REX.W 0F 6E)', init: { rsi: BigInt(MEM + 0x30) } });
addForm('.byte 0x48, 0x0f, 0x7e, 0x0e', INT, { name: 'movq [rsi], mm1 (REX.W 0F 7E)', init: { rsi: BigInt(MEM + 0x4b) } });
addForm('.byte 0x4c, 0x0f, 0x6e, 0xc9', INT, { name: 'movq mm1, rcx with REX.WR (0F 6E)' });
mm('movq', INT);
addForm('.byte 0x0f, 0x7f, 0xd1', INT, { name: 'movq mm1, mm2 (0F 7F)' });
addForm('.byte 0x45, 0x0f, 0x7f, 0xd1', INT, { name: 'movq mm1, mm2 (0F 7F) with REX.RB' });
addForm(`movq ${memOp(8)}, mm7`, INT); addForm(`movq ${memOp(8)}, mm2`, INT);
addForm(`movntq ${memOp(8)}, mm3`, INT); addForm(`movntq ${memOp(8)}, mm6`, INT);
addForm('pmovmskb eax, mm1', INT); addForm('pmovmskb r11d, mm7', INT); addForm('pmovmskb ecx, mm2', INT);
addForm('maskmovq mm1, mm2', INT, { init: { rdi: BigInt(DATA_STORE(0x20)) } });
addForm('maskmovq mm7, mm4', INT, { init: { rdi: BigInt(DATA_STORE(0x37)) } });
addForm('movq2dq xmm1, mm2', INT); addForm('movq2dq xmm12, mm7', INT);
addForm('movdq2q mm1, xmm2', INT); addForm('movdq2q mm6, xmm13', INT);
addForm('emms', INT);
addForm('movq mm3, mm4\nemms', INT, { name: 'movq mm3, mm4; emms' });

suite('mmx moves');

function DATA_STORE(off: number): number {
  return MEM + STORE + off;
}

// ---- conversions (SSE/SSE2 with MMX operands)
const I32: Spec = { kind: 'i32', mx: true };
const F32: Spec = { kind: 'f32', mx: true };
const F64: Spec = { kind: 'f64', mx: true };
addForm('cvtpi2ps xmm1, mm2', I32); addForm('cvtpi2ps xmm9, mm6', I32);
// CVTPI2PS xmm, m64: the SDM has every form make the x87-to-MMX transition (and take a pending #MF), which the VP
// does; this AMD host leaves the x87 state alone for the memory form. FNINIT after it makes the x87 state equal
// in both worlds, so the conversion (XMM, MXCSR) is compared here; the transition is a VP test (mmx.test.ts).
addForm(`cvtpi2ps xmm3, ${memOp(8)}\nfninit`, I32, { name: 'cvtpi2ps xmm3, m64; fninit' });
addForm(`cvtpi2ps xmm11, ${memOp(8)}\nfninit`, I32, { name: 'cvtpi2ps xmm11, m64; fninit' });
addForm('cvtpi2pd xmm1, mm2', I32); addForm('cvtpi2pd xmm14, mm6', I32); addForm(`cvtpi2pd xmm4, ${memOp(8)}`, I32);
for (const mn of ['cvtps2pi', 'cvttps2pi']) {
  addForm(`${mn} mm1, xmm2`, F32); addForm(`${mn} mm6, xmm13`, F32); addForm(`${mn} mm0, ${memOp(8)}`, F32);
}
for (const mn of ['cvtpd2pi', 'cvttpd2pi']) {
  addForm(`${mn} mm1, xmm2`, F64); addForm(`${mn} mm6, xmm13`, F64); addForm(`${mn} mm0, ${memOp(16)}`, F64);
  addForm(`${mn} mm2, XMMWORD PTR [${hex(MEM + 0x28)}]`, F64, { allFault: true, cases: 200, name: `${mn} misaligned m128 (#GP)` });
}

suite('mmx conversions');

// ---- the x87 view of MMX state
const ST_OUT = `TBYTE PTR [${hex(DATA_STORE(0x80))}]`;
addForm(`movq mm0, rax\nfstp ${ST_OUT}`, INT, { name: 'movq mm0, rax; fstp m80 (ST0 is MM0 with exponent 0xFFFF)' });
addForm(`movd mm0, ecx\nfstp ${ST_OUT}`, INT, { name: 'movd mm0, ecx; fstp m80' });
addForm(`paddb mm5, mm2\nfstp ${ST_OUT}`, INT, { name: 'paddb mm5, mm2; fstp m80 (ST0 is MM0, not written)' });
addForm(`movq mm3, rax\nfld1`, INT, { name: 'movq mm3, rax; fld1 (stack overflow: every tag valid)' });
addForm(`movq mm3, rax\nemms\nfld1\nfstp ${ST_OUT}`, INT, { name: 'movq mm3, rax; emms; fld1; fstp m80' });
addForm(`fld1\nfldpi\npxor mm1, mm1`, INT, { name: 'fld1; fldpi; pxor mm1, mm1 (TOP back to 0)' });
addForm(`fninit\nfldpi\nmovq rax, mm7`, INT, { name: 'fninit; fldpi; movq rax, mm7 (MM7 is the pushed register)' });
addForm(`movq mm2, rax\nfxch st(2)\nmovq rdx, mm0`, INT, { name: 'movq mm2, rax; fxch st(2); movq rdx, mm0' });

suite('mmx and x87');

// ---- pending x87 exceptions: #MF before the instruction (CVTPI2PD m64 takes none and runs)
const PENDING: Spec = { kind: 'int', pending: true };
for (const insn of ['paddb mm1, mm2', `movq mm3, ${memOp(8)}`, 'movd eax, mm1', `movq ${memOp(8)}, mm2`, 'emms',
  'pshufw mm1, mm2, 0x1b', 'movq2dq xmm1, mm2', 'movdq2q mm1, xmm2', 'cvtpi2ps xmm1, mm2',
  'cvtpi2pd xmm1, mm2', 'cvtps2pi mm1, xmm2', 'cvtpd2pi mm1, xmm2', 'psrlq mm1, 3', 'maskmovq mm1, mm2']) {
  addForm(insn, PENDING, { allFault: true, cases: 200, name: `${insn} with a pending x87 exception (#MF)`, init: { rdi: BigInt(DATA_STORE(0x40)) } });
}
addForm(`cvtpi2pd xmm1, ${memOp(8)}`, PENDING, { cases: 200, name: 'cvtpi2pd xmm1, m64 with a pending x87 exception (no #MF, no transition)' });

suite('mmx pending x87 exceptions');

// ---- encodings without an MMX form: #UD on the host and in the VP
const UD: [string, string][] = [
  ['psrldq mm1, 1 (0F 73 /3 without 66)', '.byte 0x0f, 0x73, 0xd9, 0x01'],
  ['pslldq mm1, 1 (0F 73 /7 without 66)', '.byte 0x0f, 0x73, 0xf9, 0x01'],
  ['psraq mm1, 1 (0F 73 /4)', '.byte 0x0f, 0x73, 0xe1, 0x01'],
  ['0F 71 /0', '.byte 0x0f, 0x71, 0xc1, 0x01'],
  ['psrlw [mem], 1 (memory form of 0F 71)', '.byte 0x0f, 0x71, 0x10, 0x01'],
  ['punpcklqdq mm1, mm2 (0F 6C)', '.byte 0x0f, 0x6c, 0xca'],
  ['punpckhqdq mm1, mm2 (0F 6D)', '.byte 0x0f, 0x6d, 0xca'],
  ['maskmovq with a memory operand', '.byte 0x0f, 0xf7, 0x08'],
  ['pmovmskb with a memory operand', '.byte 0x0f, 0xd7, 0x00'],
  ['movntq with a register destination', '.byte 0x0f, 0xe7, 0xca'],
  ['pextrw with a memory operand', '.byte 0x0f, 0xc5, 0x00, 0x01'],
  ['movq2dq with a memory operand', '.byte 0xf3, 0x0f, 0xd6, 0x00'],
  ['movdq2q with a memory operand', '.byte 0xf2, 0x0f, 0xd6, 0x00'],
  ['lock paddb', '.byte 0xf0, 0x0f, 0xfc, 0xca'],
];
for (const [name, bytes] of UD) addForm(bytes, INT, { name, ud: true, allFault: true, cases: 200, init: { rax: BigInt(MEM) } });

suite('mmx invalid encodings');
printTotals('diff-mmx');
