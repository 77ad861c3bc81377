// Processor-level behaviour of the string instructions that a differential test on the host cannot show:
// precise page faults in the middle of REP loops (registers show the completed iterations, CR2 the faulting
// byte), self-modifying code written by REP STOS/MOVS, REP loops yielding and resuming, and port string I/O.
// Expected values follow the Intel SDM (vol. 2 MOVS/STOS/INS/OUTS, vol. 3 §6.15 #PF, §4.7 error codes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BareMachine, CODE, PD } from '../support/bare-machine.js';
import { EXIT_BUDGET, EXIT_HLT } from '../../src/vp/index.js';
import { REP_BUDGET } from '../../src/vp/x86/ops/string.js';

const PT = 0x8000; // 4 KiB page table for 0x400000..0x5fffff
const IDT = 0x9000;
const HANDLER = 0x110000; // #PF and #GP handler: HLT
const HOLE = 0x401000; // not present

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
const movRsi = (v: number): number[] => [0x48, 0xc7, 0xc6, ...le32(v)];
const movRdi = (v: number): number[] => [0x48, 0xc7, 0xc7, ...le32(v)];
const movEcx = (v: number): number[] => [0xb9, ...le32(v)];
const movEax = (v: number): number[] => [0xb8, ...le32(v)];
const movEbx = (v: number): number[] => [0xbb, ...le32(v)];
const HLT = 0xf4, STD = 0xfd, CLD = 0xfc;

/** A machine whose 0x400000 2 MiB region is mapped with 4 KiB pages, HOLE not present, and an IDT. */
function machineWithHole(): BareMachine {
  const m = new BareMachine();
  const dv = m.dv;
  dv.setBigUint64(PD + 2 * 8, BigInt(PT | 3), true);
  for (let k = 0; k < 512; k++) {
    const a = 0x400000 + k * 4096;
    dv.setBigUint64(PT + k * 8, a === HOLE ? 0n : BigInt(a | 3), true);
  }
  for (const v of [13, 14]) {
    const g = IDT + v * 16;
    dv.setUint16(g, HANDLER & 0xffff, true);
    dv.setUint16(g + 2, 0x08, true);
    dv.setUint8(g + 4, 0);
    dv.setUint8(g + 5, 0x8e);
    dv.setUint16(g + 6, (HANDLER >>> 16) & 0xffff, true);
    dv.setUint32(g + 8, 0, true);
  }
  m.engine.setRegister('idtr_base', BigInt(IDT));
  m.engine.setRegister('idtr_limit', BigInt(256 * 16 - 1));
  m.engine.setRegister('cr3', 0x1000n); // flush the TLB after the page-table edit
  m.load(HANDLER, [HLT]);
  return m;
}

/** The exception frame the handler sees: error code, RIP, CS, RFLAGS, RSP, SS. */
function frame(m: BareMachine): { err: bigint; rip: bigint } {
  const rsp = Number(m.reg('rsp'));
  return { err: m.dv.getBigUint64(rsp, true), rip: m.dv.getBigUint64(rsp + 8, true) };
}

function fillPattern(m: BareMachine, addr: number, n: number, seed: number): void {
  for (let k = 0; k < n; k++) m.u8[addr + k] = (k * 7 + seed) & 0xff;
}

test('REP MOVSB writing into a not-present page faults with the completed iterations in RCX/RSI/RDI', () => {
  const m = machineWithHole();
  const src = 0x300000, dst = HOLE - 0x100, n = 0x300;
  fillPattern(m, src, n, 3);
  const prog = [...movRsi(src), ...movRdi(dst), ...movEcx(n), 0xf3, 0xa4, HLT];
  const repAt = CODE + 7 + 7 + 5;
  m.load(CODE, prog);
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rip'), BigInt(HANDLER + 1));
  const f = frame(m);
  assert.equal(f.rip, BigInt(repAt), 'pushed RIP is the REP MOVSB');
  assert.equal(f.err, 2n, 'error code: write, not present, supervisor');
  assert.equal(m.reg('cr2'), BigInt(HOLE));
  assert.equal(m.reg('rcx'), BigInt(n - 0x100));
  assert.equal(m.reg('rsi'), BigInt(src + 0x100));
  assert.equal(m.reg('rdi'), BigInt(HOLE));
  for (let k = 0; k < 0x100; k++) assert.equal(m.u8[dst + k], m.u8[src + k], `byte ${k} copied`);
});

test('REP MOVSQ with an element straddling into the hole faults before storing any of it', () => {
  const m = machineWithHole();
  const src = 0x300000, dst = HOLE - 0x24, n = 10; // 4 whole qwords fit, the 5th straddles
  fillPattern(m, src, 80, 9);
  m.u8.fill(0xee, dst, HOLE);
  m.load(CODE, [...movRsi(src), ...movRdi(dst), ...movEcx(n), 0xf3, 0x48, 0xa5, HLT]);
  assert.equal(m.run(), EXIT_HLT);
  const f = frame(m);
  assert.equal(f.rip, BigInt(CODE + 19));
  assert.equal(f.err, 2n);
  assert.equal(m.reg('cr2'), BigInt(HOLE), 'CR2 is the first byte in the missing page');
  assert.equal(m.reg('rcx'), BigInt(n - 4));
  assert.equal(m.reg('rsi'), BigInt(src + 32));
  assert.equal(m.reg('rdi'), BigInt(dst + 32));
  for (let k = 0; k < 32; k++) assert.equal(m.u8[dst + k], m.u8[src + k]);
  for (let k = 32; k < 0x24; k++) assert.equal(m.u8[dst + k], 0xee, `straddling element byte ${k} not stored`);
});

test('REP MOVSB reading downwards (DF=1) into the hole faults on the read with the right state', () => {
  const m = machineWithHole();
  const src = HOLE + 0x1010, dst = 0x300800, n = 0x40; // 17 bytes readable (0x402010 down to 0x402000)
  fillPattern(m, HOLE + 0x1000, 0x20, 5);
  m.load(CODE, [STD, ...movRsi(src), ...movRdi(dst), ...movEcx(n), 0xf3, 0xa4, HLT]);
  assert.equal(m.run(), EXIT_HLT);
  const f = frame(m);
  assert.equal(f.rip, BigInt(CODE + 1 + 19));
  assert.equal(f.err, 0n, 'error code: read, not present, supervisor');
  assert.equal(m.reg('cr2'), BigInt(HOLE + 0xfff));
  assert.equal(m.reg('rcx'), BigInt(n - 17));
  assert.equal(m.reg('rsi'), BigInt(HOLE + 0xfff));
  assert.equal(m.reg('rdi'), BigInt(dst - 17));
  for (let k = 0; k < 17; k++) assert.equal(m.u8[dst - k], m.u8[src - k]);
});

test('REP STOSQ into the hole faults after the whole qwords before it', () => {
  const m = machineWithHole();
  const dst = HOLE - 0x18;
  m.load(CODE, [...movRdi(dst), ...movEcx(100), 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xf3, 0x48, 0xab, HLT]);
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('cr2'), BigInt(HOLE));
  assert.equal(m.reg('rcx'), 97n);
  assert.equal(m.reg('rdi'), BigInt(HOLE));
  for (let k = 0; k < 3; k++) assert.equal(m.dv.getBigUint64(dst + 8 * k, true), 0x1122334455667788n);
});

test('REP STOSB over the instructions that follow it in the same block: the new bytes execute', () => {
  const m = new BareMachine();
  const target = CODE + 7 + 5 + 5 + 2;
  // mov rdi, target; mov ecx, 5; mov eax, 0x90909090; rep stosb; target: mov ebx, 0x11111111; hlt
  m.load(CODE, [...movRdi(target), ...movEcx(5), ...movEax(0x90909090), 0xf3, 0xaa, ...movEbx(0x11111111), HLT]);
  const before = m.engine.cpu.stats.blocksInvalidated;
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rbx'), 0n, 'the MOV EBX was overwritten with NOPs before it ran');
  assert.equal(m.reg('rip'), BigInt(target + 6));
  assert.ok(m.engine.cpu.stats.blocksInvalidated > before);
});

test('REP MOVSB over a subroutine decoded earlier: the next call runs the new code', () => {
  const m = new BareMachine();
  const sub = CODE + 0x3000, fresh = 0x300000;
  m.load(sub, [...movEbx(1), 0xc3]); // mov ebx, 1; ret
  m.u8.set([...movEbx(2), 0xc3], fresh); // mov ebx, 2; ret (data)
  m.u8.fill(0xab, fresh + 6, fresh + 0x2000); // the copy is long: it crosses into the page after the code
  const call = (at: number): number[] => [0xe8, ...le32(sub - (at + 5))];
  const p: number[] = [];
  p.push(...call(CODE + p.length));
  p.push(0x89, 0xdd); // mov ebp, ebx (1 from the old code)
  p.push(...movRsi(fresh), ...movRdi(sub), ...movEcx(0x2000), 0xf3, 0xa4);
  p.push(...call(CODE + p.length));
  p.push(HLT);
  m.load(CODE, p);
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rbp'), 1n);
  assert.equal(m.reg('rbx'), 2n, 'the second call ran the copied code');
  for (let k = 0; k < 0x2000; k += 0x3ff) assert.equal(m.u8[sub + k], m.u8[fresh + k]);
});

test('a long REP MOVSB yields after REP_BUDGET iterations with RIP on itself, then completes', () => {
  const m = new BareMachine();
  const src = 0x400000, dst = 0x800000, n = 3 * REP_BUDGET + 123;
  fillPattern(m, src, n, 1);
  const repAt = CODE + 19;
  m.load(CODE, [...movRsi(src), ...movRdi(dst), ...movEcx(n), 0xf3, 0xa4, HLT]);
  assert.equal(m.run(1), EXIT_BUDGET);
  assert.equal(m.reg('rip'), BigInt(repAt));
  assert.equal(m.reg('rcx'), BigInt(n - REP_BUDGET));
  assert.equal(m.reg('rsi'), BigInt(src + REP_BUDGET));
  assert.equal(m.run(1), EXIT_BUDGET);
  assert.equal(m.reg('rcx'), BigInt(n - 2 * REP_BUDGET));
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rcx'), 0n);
  assert.equal(m.reg('rdi'), BigInt(dst + n));
  assert.equal(Buffer.compare(m.u8.subarray(src, src + n), m.u8.subarray(dst, dst + n)), 0);
});

test('a pending interrupt is taken between REP chunks with RIP on the REP instruction', () => {
  const m = machineWithHole();
  const vec = 0x40, isr = 0x120000;
  const g = IDT + vec * 16;
  m.dv.setUint16(g, isr & 0xffff, true); m.dv.setUint16(g + 2, 0x08, true);
  m.dv.setUint8(g + 5, 0x8e); m.dv.setUint16(g + 6, isr >>> 16, true);
  m.load(isr, [HLT]);
  let delivered = 0;
  m.platform.acknowledgeInterrupt = () => (delivered++ === 0 ? vec : -1);
  const n = 5 * REP_BUDGET;
  m.load(CODE, [0xfb, ...movRsi(0x300000), ...movRdi(0x600000), ...movEcx(n), 0xf3, 0xa4, HLT]); // sti; ...
  assert.equal(m.run(1), EXIT_BUDGET); // STI ends its block; the shadow covers the MOVs
  assert.equal(m.run(1), EXIT_BUDGET); // MOVs + first chunk
  assert.equal(m.reg('rcx'), BigInt(n - REP_BUDGET));
  m.engine.signalInterrupt();
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rip'), BigInt(isr + 1));
  assert.equal(frame(m).err, BigInt(CODE + 1 + 19), 'pushed RIP (no error code for an interrupt) is the REP');
  assert.equal(m.reg('rcx'), BigInt(n - REP_BUDGET));
});

test('REP OUTSB / REP INSW go through the platform, port DX', () => {
  const m = new BareMachine();
  const msg = [...'hello, port'].map((c) => c.charCodeAt(0));
  m.u8.set(msg, 0x300000);
  const reads: { port: number; size: number }[] = [];
  let next = 0x1234;
  m.platform.ioRead = (port: number, size: number): number => { reads.push({ port, size }); return next++; };
  // mov edx, 0xe9; rep outsb (rsi=0x300000, rcx=len); mov dx, 0x60; rep insw (rdi=0x301000, rcx=3); hlt
  m.load(CODE, [0xba, ...le32(0xe9), ...movRsi(0x300000), ...movEcx(msg.length), 0xf3, 0x6e,
    0xba, ...le32(0x60), ...movRdi(0x301000), ...movEcx(3), 0x66, 0xf3, 0x6d, HLT]);
  assert.equal(m.run(), EXIT_HLT);
  assert.deepEqual(m.platform.out, msg);
  assert.equal(m.reg('rsi'), BigInt(0x300000 + msg.length));
  assert.deepEqual(reads, [{ port: 0x60, size: 2 }, { port: 0x60, size: 2 }, { port: 0x60, size: 2 }]);
  assert.deepEqual([...m.u8.subarray(0x301000, 0x301006)], [0x34, 0x12, 0x35, 0x12, 0x36, 0x12]);
  assert.equal(m.reg('rdi'), 0x301006n);
  assert.equal(m.reg('rcx'), 0n);
});

test('INSB whose store faults does not read the port', () => {
  const m = machineWithHole();
  let reads = 0;
  m.platform.ioRead = (): number => { reads++; return 0x5a; };
  m.load(CODE, [0xba, ...le32(0x60), ...movRdi(HOLE + 8), 0x6c, HLT]);
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(reads, 0);
  assert.equal(m.reg('cr2'), BigInt(HOLE + 8));
  assert.equal(frame(m).rip, BigInt(CODE + 12));
});

test('string moves on MMIO go element by element to the platform', () => {
  const m = new BareMachine(); // RAM is 64 MiB; 0x8000000 is mapped by the page tables but not RAM: MMIO
  m.load(CODE, [...movRsi(0x300000), 0x48, 0xc7, 0xc7, ...le32(0x8000000), ...movEcx(3), 0xf3, 0xa5, HLT]);
  m.u8.set([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0], 0x300000);
  assert.equal(m.run(), EXIT_HLT);
  assert.deepEqual(m.platform.mmio, [
    { gpa: 0x8000000, size: 4, value: 1 }, { gpa: 0x8000004, size: 4, value: 2 }, { gpa: 0x8000008, size: 4, value: 3 },
  ]);
});

test('CLD restores forward direction (sanity of the DF helpers used above)', () => {
  const m = new BareMachine();
  m.load(CODE, [STD, CLD, ...movRdi(0x300000), ...movEcx(2), ...movEax(0x41), 0xf3, 0xaa, HLT]);
  assert.equal(m.run(), EXIT_HLT);
  assert.equal(m.reg('rdi'), 0x300002n);
});

test('INS/OUTS at CPL 3 need IOPL 3: #GP(0) before any port or memory access otherwise', () => {
  for (const iopl of [0, 3]) {
    const m = new BareMachine();
    const dv = m.dv;
    // Make the identity map user-accessible at every level, then enter CPL 3.
    dv.setBigUint64(0x1000, dv.getBigUint64(0x1000, true) | 4n, true);
    dv.setBigUint64(0x2000, dv.getBigUint64(0x2000, true) | 4n, true);
    for (let k = 0; k < 512; k++) dv.setBigUint64(PD + k * 8, dv.getBigUint64(PD + k * 8, true) | 4n, true);
    m.engine.setRegister('cr3', 0x1000n);
    m.engine.setSegment('ss', { selector: 0x1b, base: 0n, limit: 0xffffffff, attributes: 0xc0f3 });
    m.engine.setSegment('cs', { selector: 0x23, base: 0n, limit: 0xffffffff, attributes: 0xa0fb });
    m.engine.setRegister('rflags', BigInt(2 | (iopl << 12)));
    const cpu = m.engine.cpu;
    assert.equal(cpu.cpl, 3);
    const faults: { vector: number; error: number }[] = [];
    cpu.handleFault = (f): void => { faults.push({ vector: f.vector, error: f.errorCode }); cpu.requestExit(-1); };
    let reads = 0;
    m.platform.ioRead = (): number => { reads++; return 0x77; };
    m.u8.set([0x41, 0x42], 0x300000);
    // mov edx, 0xe9; mov rsi, 0x300000; mov ecx, 2; rep outsb; mov rdi, 0x300100; insb; hlt (HLT: #GP at CPL 3)
    m.load(CODE, [0xba, ...le32(0xe9), ...movRsi(0x300000), ...movEcx(2), 0xf3, 0x6e, ...movRdi(0x300100), 0x6c, HLT]);
    m.run();
    if (iopl === 0) {
      assert.deepEqual(faults, [{ vector: 13, error: 0 }]);
      assert.equal(m.reg('rip'), BigInt(CODE + 17), 'RIP on the REP OUTSB');
      assert.equal(m.reg('rcx'), 2n);
      assert.equal(m.reg('rsi'), 0x300000n);
      assert.deepEqual(m.platform.out, []);
    } else {
      assert.deepEqual(faults, [{ vector: 13, error: 0 }], 'only the HLT faults');
      assert.equal(m.reg('rip'), BigInt(CODE + 17 + 2 + 7 + 1));
      assert.deepEqual(m.platform.out, [0x41, 0x42]);
      assert.equal(reads, 1);
      assert.equal(m.u8[0x300100], 0x77);
    }
  }
});
