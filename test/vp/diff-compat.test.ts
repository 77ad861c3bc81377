// Differential tests (host CPU vs the VP) in compatibility mode: a 32-bit code segment at CPL 3 under long mode
// (test/support/diff/diff.ts, mode 'compat32'). This file covers the instructions that exist only outside 64-bit
// mode (ops/compat.ts), control transfer with 32- and 16-bit EIP, and the stack; diff-compat-gp.test.ts covers
// the general-purpose groups in 32- and 16-bit operand sizes.
//
// Undefined flags (Intel SDM vol. 2 "Flags Affected"): DAA/DAS: OF; AAA/AAS: OF SF ZF PF; AAM/AAD: OF AF CF.
// The host (AMD EPYC) and Intel parts produce different values for exactly these (AMD computes them from an
// internal add/subtract; Intel's are documented only as undefined); they are masked and nothing else is.
//
// Vendor choices where the SDM allows either: PUSH sreg and far CALL's CS push with a 32-bit operand size may
// write the whole slot (zero-extended selector) or only its low 16 bits (recent Intel cores); the forms clear the
// slot's upper bytes first so both behaviours give the same memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AF, CF, CODE, DATA, diffSuite, OF, PF, printTotals, SF, STACK, ZF, type CaseSetup, type DiffForm, type Rng,
} from '../support/diff/diff.js';
import { compatMachine, STUBS } from '../support/diff/compat-machine.js';
import { EXIT_HLT } from '../../src/vp/index.js';

const compat = { mode: 'compat32' } as const;
const forms: DiffForm[] = [];
const add = (f: DiffForm): void => { forms.push(f); };

/** Clear bytes 2..3 of the 32-bit stack slots below STACK (for pushes of 16-bit selectors in 32-bit slots). */
function clearSlotTops(slots: number) {
  return (_r: Rng, m: Uint8Array): void => {
    for (let k = 1; k <= slots; k++) { m[STACK - DATA - 4 * k + 2] = 0; m[STACK - DATA - 4 * k + 3] = 0; }
  };
}

/** Put a 32-bit value (or a 16-bit one) at the stack top. */
function stackTop(c: CaseSetup, v: number, size = 4): void {
  for (let b = 0; b < size; b++) c.mem[STACK - DATA + b] = (v >>> (8 * b)) & 0xff;
}

// ---- PUSHA / POPA
add({ asm: 'pusha' });
add({ asm: 'pushaw' });
add({ asm: 'popa' });
add({ asm: 'popaw' });
add({ asm: 'pusha; popa' });
add({ asm: 'mov esp, 0x200020; pusha', name: 'pusha below the window start (#PF, nothing written)', allFault: true });

// ---- PUSH / POP segment registers
add({ asm: 'push es; push cs; push ss; push ds', mem: clearSlotTops(4) });
add({ asm: 'pushw es; pushw cs; pushw ss; pushw ds' });
const SELECTORS = [0, 1, 3, 0x2b, 0x28, 0x23, 0x33, 0x2a, 0x18, 0x10, 0x08, 0x38, 0x40, 0x2f, 0x1003, 0xfffb];
for (const seg of ['ds', 'es', 'ss']) {
  const setup = (r: Rng, c: CaseSetup): void => stackTop(c, r.pick(SELECTORS) | (r.below(2) ? r.u32() & 0xffff0000 : 0));
  add({ asm: `pop ${seg}; push ${seg}`, setup, mem: clearSlotTops(1) });
  add({ asm: `popw ${seg}; pushw ${seg}`, setup: (r, c) => stackTop(c, r.pick(SELECTORS), 2) });
}
add({ asm: 'push ss; pop ss; inc eax', name: 'pop ss (interrupt shadow) then an instruction', mem: clearSlotTops(1) });

// ---- descriptor queries (VERR/VERW/LAR/LSL: ZF says whether the selector is usable; no fault for bad ones).
// Only selectors whose descriptors the compat machine shares with Linux's GDT (not TLS or the per-CPU segment).
const selSetup = (reg: 'rax' | 'rbx') => (r: Rng, c: CaseSetup): void => c.set(reg, BigInt(r.pick(SELECTORS)) | (BigInt(r.u32()) << 16n));
add({ asm: 'verr ax', setup: selSetup('rax') });
add({ asm: 'verw ax', setup: selSetup('rax') });
add({ asm: 'lar eax, bx', setup: selSetup('rbx') });
add({ asm: 'lar ax, bx', setup: selSetup('rbx') });
add({ asm: 'lsl eax, bx', setup: selSetup('rbx') });
add({ asm: 'lsl ax, bx', setup: selSetup('rbx') });

// ---- decimal arithmetic (AL/AH from the edge-biased random registers, AF/CF random)
const ALS = [0x00, 0x09, 0x0a, 0x0f, 0x10, 0x19, 0x1a, 0x60, 0x90, 0x99, 0x9a, 0x9f, 0xa0, 0xf9, 0xfa, 0xff, 0x05, 0x66];
const alSetup = (r: Rng, c: CaseSetup): void => {
  if (r.below(2) === 0) c.set('rax', (c.reg('rax') & ~0xffn) | BigInt(r.pick(ALS)));
};
add({ asm: 'daa', undefFlags: OF, setup: alSetup });
add({ asm: 'das', undefFlags: OF, setup: alSetup });
add({ asm: 'aaa', undefFlags: OF | SF | ZF | PF, setup: alSetup });
add({ asm: 'aas', undefFlags: OF | SF | ZF | PF, setup: alSetup });
add({ asm: 'add al, bl; daa', undefFlags: OF });
add({ asm: 'sub al, bl; das', undefFlags: OF });
add({ asm: 'add al, bl; aaa', undefFlags: OF | SF | ZF | PF });
add({ asm: 'sub al, bl; aas', undefFlags: OF | SF | ZF | PF });
for (const base of [10, 16, 7, 1, 255]) {
  add({ asm: `aam ${base}`, undefFlags: OF | AF | CF });
  add({ asm: `aad ${base}`, undefFlags: OF | AF | CF });
}
add({ asm: 'aam 0', name: 'aam 0 (#DE, nothing changes)', allFault: true });
add({ asm: 'aad 0', undefFlags: OF | AF | CF });
add({ asm: '.byte 0xd6', name: 'salc' });
add({ asm: 'cmp eax, ebx; .byte 0xd6', name: 'cmp; salc' });

// ---- BOUND (#BR is a fault: nothing changes)
const boundSetup = (size: 2 | 4) => (r: Rng, c: CaseSetup): void => {
  // Bounds around the index, in or out of range by a little, or random.
  const idx = Number(c.reg('rax') & (size === 4 ? 0xffffffffn : 0xffffn));
  const sx = size === 4 ? idx | 0 : (idx << 16) >> 16;
  const lo = sx - r.below(3) + 1, hi = sx + r.below(3) - 1;
  const put = (off: number, v: number): void => { for (let b = 0; b < size; b++) c.mem[0x10 + off + b] = (v >>> (8 * b)) & 0xff; };
  if (r.below(4) !== 0) { put(0, lo); put(size, hi); }
};
add({ asm: 'bound eax, QWORD PTR [0x200010]', setup: boundSetup(4) });
add({ asm: 'bound ax, DWORD PTR [0x200010]', setup: boundSetup(2) });
add({ asm: 'bound eax, QWORD PTR [ebx+ecx*2-0x10]', setup: boundSetup(4), init: { rbx: BigInt(DATA + 0x10), rcx: 8n } });
add({ asm: '.byte 0x62, 0xc3', name: 'bound eax, ebx (register operand: #UD)', ud: true, allFault: true });

// ---- LES / LDS (then push the segment to see what was loaded)
const farPtr = (size: 2 | 4) => (r: Rng, c: CaseSetup): void => {
  const sel = r.pick(SELECTORS);
  c.mem[0x10 + size] = sel & 0xff; c.mem[0x11 + size] = sel >> 8;
};
add({ asm: 'les eax, FWORD PTR [0x200010]; push es', setup: farPtr(4), mem: clearSlotTops(1) });
add({ asm: 'lds ebx, FWORD PTR [0x200010]; push ds', setup: farPtr(4), mem: clearSlotTops(1) });
add({ asm: 'les cx, DWORD PTR [0x200010]; pushw es', setup: farPtr(2) });
add({ asm: 'lds di, DWORD PTR [0x200010]; pushw ds', setup: farPtr(2) });
add({ asm: '.byte 0xc4, 0xc3', name: 'les eax, ebx (register operand: #UD)', ud: true, allFault: true });
add({ asm: '.byte 0xc5, 0xc3', name: 'lds eax, ebx (register operand: #UD)', ud: true, allFault: true });

// ---- ARPL (ZF only)
add({ asm: 'arpl bx, cx' });
add({ asm: 'arpl ax, ax' });
add({ asm: 'arpl WORD PTR [0x200010], dx' });
add({ asm: 'arpl WORD PTR [esi+1], di', init: { rsi: BigInt(DATA + 0x20) } });

// ---- INTO, INT3, INT n, ICEBP: traps through the IDT (frame RIP after the instruction) or #GP(n*8+2)
add({ asm: 'into' });
add({ asm: 'add eax, ebx; into' });
add({ asm: 'int3', allFault: true });
add({ asm: 'int 3', allFault: true });
add({ asm: 'int 4', allFault: true });
add({ asm: 'int 0x21', name: 'int 0x21 (DPL 0 gate: #GP(0x10a))', allFault: true });

// ---- far JMP/CALL through memory (m16:32, m16:16) to the 32-bit code segment and back with RETF; the pointer
// is built at run time from the snippet's own address. Invalid selectors fault before anything changes.
const FAR_SELECTORS = [0x23, 0x23, 0x23, 0x2b, 0x20, 0, 0x10, 0x1b, 0x38, 0x1003];
const farSel = (r: Rng, c: CaseSetup): void => c.set('rdx', r.pick(FAR_SELECTORS));
add({
  asm: 'call 1f; 1: pop eax; add eax, 2f-1b; mov [0x200010], eax; mov [0x200014], dx; jmp FWORD PTR [0x200010]; inc ecx; 2: inc ebx',
  setup: farSel,
});
add({
  asm: 'call 1f; 1: pop eax; add eax, 2f-1b; mov [0x200010], eax; mov [0x200014], dx; call FWORD PTR [0x200010]; jmp 3f; 2: inc ecx; retf; 3: inc ebx',
  setup: farSel, mem: clearSlotTops(3),
});
add({
  asm: 'call 1f; 1: pop eax; add eax, 2f-1b; mov [0x200010], eax; mov [0x200014], dx; call FWORD PTR [0x200010]; jmp 3f; 2: inc ecx; retf 8; 3: inc ebx',
  name: 'far call, retf imm16', setup: farSel, mem: clearSlotTops(3),
});
// 16-bit far pointers: IP is 16 bits, so the target is below 64 KiB: a #PF at the masked EIP in both worlds.
add({ asm: 'mov WORD PTR [0x200010], ax; mov WORD PTR [0x200012], 0x23; .byte 0x66, 0xff, 0x2d; .long 0x200010', name: 'jmp far m16:16 (#PF at IP)', allFault: true });
add({ asm: 'mov WORD PTR [0x200010], ax; mov WORD PTR [0x200012], 0x23; .byte 0x66, 0xff, 0x1d; .long 0x200010', name: 'call far m16:16 (#PF at IP)', allFault: true });
// Far JMP to the 64-bit user code segment: the rest runs as 64-bit code, where the harness's far-JMP stub (EA)
// is #UD; 48 FF C0 is INC RAX there.
add({
  asm: 'call 1f; 1: pop eax; add eax, 2f-1b; mov [0x200010], eax; mov WORD PTR [0x200014], 0x33; jmp FWORD PTR [0x200010]; 2: .byte 0x48, 0xff, 0xc0, 0x48, 0xff, 0xc3',
  name: 'far jmp into the 64-bit code segment (then #UD on EA)', ud: true, allFault: true,
});

// ---- near control transfer: 32-bit targets computed at run time, 16-bit IP truncation (#PF at the masked
// target), RET to a random address above the identity map (#PF), LOOP/JECXZ with ECX and (67) CX.
add({ asm: 'call 1f; jmp 2f; 1: inc eax; ret; 2: inc ebx' });
add({ asm: 'call 1f; jmp 2f; 1: inc eax; ret 12; 2: inc ebx' });
add({ asm: 'call 1f; 1: pop ecx; add ecx, 2f-1b; call ecx; jmp 3f; 2: inc eax; ret; 3: nop' });
add({ asm: 'call 1f; 1: pop ecx; add ecx, 2f-1b; mov [0x200020], ecx; call DWORD PTR [0x200020]; jmp 3f; 2: inc eax; ret; 3: nop' });
add({ asm: 'call 1f; 1: pop ecx; add ecx, 2f-1b; jmp ecx; inc eax; 2: inc edx' });
const highTarget = (r: Rng, c: CaseSetup): void => stackTop(c, (0x40000000 + r.u32() % 0xbfff0000) >>> 0);
add({ asm: 'ret', setup: highTarget, allFault: true });
add({ asm: 'ret 4', setup: highTarget, allFault: true });
add({ asm: '.byte 0x66, 0xc3', name: 'retw (IP = the popped word)', allFault: true });
add({ asm: '.byte 0x66, 0xe9, 0x00, 0x10', name: 'jmp rel16 (EIP truncated to 16 bits)', allFault: true });
add({ asm: '.byte 0x66, 0xe8, 0x34, 0x12', name: 'call rel16 (pushes IP, EIP truncated)', allFault: true });
add({ asm: '.byte 0x66, 0xeb, 0x00', name: 'jmp rel8 with 66 (EIP truncated)', allFault: true });
add({ asm: '.byte 0x66, 0x0f, 0x84, 0x00, 0x00', name: 'jz rel16 (taken: EIP truncated)' , allFault: true });
add({ asm: '.byte 0xe9; .long 0xffe00000', name: 'jmp rel32 wrapping below 0 (#PF at the wrapped EIP)', allFault: true });
add({ asm: 'jmp 0x40000000', name: 'jmp to an absolute 32-bit target (#PF)', allFault: true });
add({ asm: '1: inc eax; loop 1b', init: { rcx: (r: Rng) => BigInt(1 + r.below(12)) } });
add({ asm: '1: inc eax; loope 1b', init: { rcx: (r: Rng) => BigInt(1 + r.below(12)) } });
add({ asm: '1: add eax, ebx; loopne 1b', init: { rcx: (r: Rng) => BigInt(1 + r.below(12)) } });
add({ asm: '1: inc eax; .byte 0x67, 0xe2, 0xfd', name: 'loop with CX (67)', init: { rcx: (r: Rng) => (r.u64() & ~0xffffn) | BigInt(1 + r.below(12)) } });
add({ asm: 'jecxz 1f; inc eax; 1: inc ebx', init: { rcx: (r: Rng) => BigInt(r.below(2)) * r.u64() } });
add({ asm: '.byte 0x67, 0xe3, 0x01; inc eax; inc ebx', name: 'jcxz (67)', init: { rcx: (r: Rng) => (r.u64() & ~0xffffn) | BigInt(r.below(2)) } });
add({ asm: 'cmp eax, ebx; jl 1f; inc ecx; 1: jbe 2f; inc edx; 2: nop' });

// ---- the stack with a 32-bit ESP (SS.B=1): pushes/pops of every size, ENTER/LEAVE, PUSHF/POPF
add({ asm: 'push eax; pushw bx; push 0x12345678; pushw 0x1234; push -5; pop ecx; popw dx; pop esi' });
add({ asm: 'push DWORD PTR [0x200010]; pop DWORD PTR [0x200020]; pushw WORD PTR [0x200030]; popw WORD PTR [0x200040]' });
add({ asm: 'push esp; pop eax; pushw sp; popw bx' });
add({ asm: 'enter 0x10, 0; leave', init: { rbp: (r: Rng) => (r.u64() & ~0xffffffffn) | BigInt(DATA + 0x100 + 4 * r.below(16)) } });
add({ asm: 'enter 0x8, 3; leave', init: { rbp: (r: Rng) => (r.u64() & ~0xffffffffn) | BigInt(DATA + 0x100 + 4 * r.below(16)) } });
add({ asm: '.byte 0x66; enter 0x8, 2; .byte 0x66; leave', name: 'enterw 8, 2; leavew', init: { rbp: (r: Rng) => (r.u64() & ~0xffffffffn) | BigInt(DATA + 0x100 + 2 * r.below(16)) } });
add({ asm: 'pushf; pop eax; pushfw; pop bx' });
add({ asm: 'and DWORD PTR [esp], 0xcd5; popf; pushf', name: 'popf (arithmetic flags and DF) at CPL 3' });
add({ asm: 'xor DWORD PTR [esp], 0x3200; and DWORD PTR [esp], 0x3ed5; popf; pushf', name: 'popf cannot change IF or IOPL at CPL 3' });
add({ asm: 'and WORD PTR [esp], 0xcd5; popfw; pushfw' });

diffSuite('compat-only instructions, control flow, stack', forms, compat);

// Direct far JMP/CALL (EA/9A ptr16:32): the operand is absolute, so each form is the only one of its run and
// sits at CODE (0x100000); `0:` marks its start.
const direct = (asm: string, name: string, extra: Partial<DiffForm> = {}): void => {
  diffSuite(`compat ${name}`, [{ asm, name, ...extra }], compat);
};
direct('0: .byte 0xea; .long 0x100000 + 1f - 0b; .word 0x23; inc eax; 1: inc ebx', 'jmp far ptr16:32');
direct('0: .byte 0x9a; .long 0x100000 + 1f - 0b; .word 0x23; jmp 2f; 1: inc ecx; retf; 2: inc ebx', 'call far ptr16:32', { mem: clearSlotTops(2) });
direct('0: .byte 0x66, 0xea; .word 1f - 0b; .word 0x23; 1: inc ebx', 'jmp far ptr16:16 (IP truncated: #PF)', { allFault: true });
direct('0: .byte 0x66, 0x9a; .word 1f - 0b; .word 0x23; 1: inc ebx', 'call far ptr16:16 (IP truncated: #PF)', { allFault: true });
direct('0: .byte 0xea; .long 0x100000 + 1f - 0b; .word 0x2b; 1: inc ebx', 'jmp far to a data segment (#GP(0x28))', { allFault: true });
direct('0: .byte 0x9a; .long 0x100000 + 1f - 0b; .word 0x10; 1: inc ebx', 'call far to DPL 0 code (#GP(0x10), stack untouched)', { allFault: true });
direct('0: .byte 0xea; .long 0x100000 + 1f - 0b; .word 0x33; 1: .byte 0x48, 0xff, 0xc0', 'jmp far into 64-bit code (then #UD on EA)', { ud: true, allFault: true });

// Not differential (a Linux process has no 16-bit code segment, and the host's SYSCALL behaviour is AMD's):
// the same bytes decode by CS.D, and the block cache keeps the two decodings apart; SYSCALL from compatibility
// mode follows the CPUID vendor.
test('compat: the same code runs as 32-bit code (CS.D=1) and as 16-bit code (CS.D=0), each decoded for its size', () => {
  const m = compatMachine();
  const e = m.engine;
  m.load(CODE, [0x40, 0xf4]); // INC eAX; HLT
  const run = (attr: number): bigint => {
    e.setSegment('cs', { selector: 0x08, base: 0n, limit: 0xffffffff, attributes: attr }); // CPL 0 (HLT)
    e.setRegister('rax', 0x1234ffffn);
    e.setRegister('rip', BigInt(CODE));
    assert.equal(e.run(100), EXIT_HLT);
    return e.getRegister('rax');
  };
  assert.equal(run(0xc09b), 0x12350000n, '32-bit: INC EAX');
  assert.equal(run(0x009b), 0x12340000n, '16-bit: INC AX (the 32-bit decoding must not be reused)');
  assert.equal(run(0xc09b), 0x12350000n, '32-bit again');
});

test('compat: SYSCALL from compatibility mode is #UD with a GenuineIntel CPUID and enters at CSTAR with AuthenticAMD', () => {
  const m = compatMachine();
  const e = m.engine;
  m.load(CODE, [0x0f, 0x05, 0xf4]); // SYSCALL; HLT (not reached)
  m.load(CODE + 0x100, [0xf4]); // the CSTAR entry
  e.setRegister('star', 0x0010n << 32n);
  e.setRegister('cstar', BigInt(CODE + 0x100));
  e.setRegister('lstar', BigInt(CODE + 0x200));
  const start = (): void => {
    e.setSegment('cs', { selector: 0x23, base: 0n, limit: 0xffffffff, attributes: 0xc0fb });
    e.setRegister('rip', BigInt(CODE));
  };
  e.cpu.cpuid = new Map([['0', { eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 }]]); // GenuineIntel
  start();
  assert.equal(e.run(100), EXIT_HLT);
  assert.equal(e.getRegister('rip'), BigInt(STUBS + 6 + 1), '#UD delivered through the IDT');
  e.cpu.cpuid = new Map([['0', { eax: 0xd, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 }]]); // AuthenticAMD
  start();
  assert.equal(e.run(100), EXIT_HLT);
  assert.equal(e.getRegister('rip'), BigInt(CODE + 0x101), 'entered at CSTAR');
  assert.equal(e.getRegister('rcx'), BigInt(CODE + 2), 'RCX = the next EIP');
  assert.equal(e.getRegister('cs'), 0x10n);
  assert.equal(e.cpu.mode64, true);
});

printTotals('diff-compat');
