// The local APIC as a child partition's VP sees it, through the root's real path (WinHv, VID, HvCallDispatchVp):
// timer interrupts arrive at their exact virtual time, a halted VP fast-forwards to its timer instead of
// waiting, runs are deterministic, and the root's HvCallAssertVirtualInterrupt reaches the guest with the EOI of
// a level-triggered vector coming back as HvMessageTypeX64ApicEoi. Guest code is assembled with the system
// assembler (GNU as), as the freestanding test guests are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child, CODE } from './child.js';
import { HvRegister, HvInterruptType } from '../../src/winhv/index.js';
import { CODE_SELECTOR } from '../../src/firmware/index.js';

const MiB = 1 << 20;
const IDT = 0x180000;
const DATA = 0x200000;

/** Assemble 64-bit code placed at CODE; the handler for `vector` is the label `handler`. */
function assemble(source: string): { code: Uint8Array; handler: number } {
  const dir = mkdtempSync(join(tmpdir(), 'hypatia-apic-'));
  try {
    writeFileSync(join(dir, 'a.S'), `\t.code64\n${source}\n`);
    execFileSync('as', ['--64', join(dir, 'a.S'), '-o', join(dir, 'a.o')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
    const syms = execFileSync('nm', [join(dir, 'a.o')], { encoding: 'utf8' });
    const m = /^([0-9a-f]+) \w handler$/m.exec(syms);
    if (m === null) throw new Error('no handler label');
    return { code: new Uint8Array(readFileSync(join(dir, 'a.bin'))), handler: CODE + parseInt(m[1], 16) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A child running `source` with an IDT whose gate `vector` points at `handler`. */
function child(source: string, vector: number): Child {
  const { code, handler } = assemble(source);
  const c = new Child([...code], 4 * MiB);
  const gate = new Uint8Array(16);
  const dv = new DataView(gate.buffer);
  dv.setUint16(0, handler & 0xffff, true);
  dv.setUint16(2, CODE_SELECTOR, true);
  dv.setUint16(4, 0x8e00, true); // present, DPL 0, 64-bit interrupt gate
  dv.setUint16(6, (handler >>> 16) & 0xffff, true);
  c.part.memory.write(IDT + vector * 16, gate);
  c.part.setRegisters(0, [[HvRegister.Idtr, { base: BigInt(IDT), limit: 0xfff }]]);
  return c;
}

function u64(c: Child, gpa: number): bigint {
  return new DataView(c.part.memory.read(gpa, 8).buffer).getBigUint64(0, true);
}

function vpState(c: Child): { virtualTsc: number; instructions: number } {
  const hv = c.winhv.inspectHypervisor() as { partitions: { root: boolean; vps: { virtualTsc: number; engine: { instructions: number } }[] }[] };
  const vp = hv.partitions.find((p) => !p.root)!.vps[0];
  return { virtualTsc: vp.virtualTsc, instructions: vp.engine.instructions };
}

// x2APIC on, APIC software-enabled, the LVT timer in TSC-deadline mode on vector 0x40, deadline = now + 100000.
const DEADLINE_HLT = `
	mov $0x1b, %ecx; rdmsr; or $0xc00, %eax; wrmsr
	mov $0x80f, %ecx; mov $0x1ff, %eax; xor %edx, %edx; wrmsr
	mov $0x832, %ecx; mov $0x40040, %eax; wrmsr
	rdtsc; mov %eax, ${DATA + 0x10}; mov %edx, ${DATA + 0x14}
	add $100000, %eax; adc $0, %edx; mov $0x6e0, %ecx; wrmsr
	sti; hlt
	mov $0x2222, %ebx
	cli; hlt
handler:
	rdtsc; mov %eax, ${DATA}; mov %edx, ${DATA + 4}
	incl ${DATA + 8}
	mov $0x80b, %ecx; xor %eax, %eax; xor %edx, %edx; wrmsr
	iretq
`;

test('HLT with a TSC-deadline timer armed wakes at the deadline in virtual time, without executing the wait', () => {
  const c = child(DEADLINE_HLT, 0x40);
  const r = c.run(100_000); // 10 ms of virtual time
  assert.equal(r.event, 2, 'ended by the final CLI;HLT (an intercept)');
  assert.equal(c.messages.at(-1)?.type, 0x80010007, 'HvMessageTypeX64Halt');
  assert.equal(c.reg('Rbx'), 0x2222n, 'execution resumed after the HLT');
  assert.equal(u64(c, DATA + 8) & 0xffffffffn, 1n, 'one timer interrupt');
  const start = u64(c, DATA + 0x10), fired = u64(c, DATA);
  assert.ok(fired >= start + 100000n && fired <= start + 100000n + 20n, `handler TSC ${fired} vs deadline ${start + 100000n}`);
  const s = vpState(c);
  assert.ok(s.instructions < 100, `only ${s.instructions} instructions ran`);
  assert.ok(s.virtualTsc >= 100000, 'virtual time moved past the deadline (fast-forward)');
});

test('two runs of the same guest see identical TSC values (deterministic virtual time)', () => {
  const a = child(DEADLINE_HLT, 0x40), b = child(DEADLINE_HLT, 0x40);
  a.run(100_000); b.run(100_000);
  assert.equal(u64(a, DATA), u64(b, DATA));
  assert.equal(u64(a, DATA + 0x10), u64(b, DATA + 0x10));
  assert.deepEqual(vpState(a), vpState(b));
});

test('a periodic timer interrupts a busy loop at exact period boundaries (the run stops at each expiry)', () => {
  // Periodic, vector 0x41, divide by 1, initial count 20000 APIC ticks; the handler logs RDTSC for 5 expiries.
  const c = child(`
	mov $0x1b, %ecx; rdmsr; or $0xc00, %eax; wrmsr
	mov $0x80f, %ecx; mov $0x1ff, %eax; xor %edx, %edx; wrmsr
	mov $0x83e, %ecx; mov $0xb, %eax; wrmsr
	mov $0x832, %ecx; mov $0x20041, %eax; wrmsr
	mov $0x838, %ecx; mov $20000, %eax; wrmsr
	rdtsc; mov %eax, ${DATA + 0x100}
	sti
1:	cmpl $5, ${DATA + 8}
	jb 1b
	cli; hlt
handler:
	push %rax; push %rcx; push %rdx
	mov ${DATA + 8}, %ecx
	rdtsc; mov %eax, ${DATA + 0x20}(,%rcx,4)
	incl ${DATA + 8}
	mov $0x80b, %ecx; xor %eax, %eax; xor %edx, %edx; wrmsr
	pop %rdx; pop %rcx; pop %rax
	iretq
`, 0x41);
  const r = c.run(100_000);
  assert.equal(r.event, 2);
  const log = c.part.memory.read(DATA + 0x20, 20);
  const t = [...new Uint32Array(log.buffer, log.byteOffset, 5)];
  const start = new DataView(c.part.memory.read(DATA + 0x100, 4).buffer).getUint32(0, true);
  // Within a run the clock advances block by block (RDTSC and the timer both read it at the start of the block
  // they execute in), so the count started a few instructions before `start` was read; expiries then follow
  // at exact periods, each taken within an instruction or two of its due time.
  assert.ok(t[0] - start >= 20000 - 200 && t[0] - start <= 20000 + 20, `first expiry at ${t[0] - start} ticks after the start`);
  for (let k = 1; k < 5; k++) {
    const gap = t[k] - t[k - 1];
    assert.ok(Math.abs(gap - 20000) <= 20, `expiry ${k} came ${gap} ticks after the previous one (period 20000)`);
  }
});

test('the root asserts a level-triggered interrupt: it wakes the halted guest and its EOI comes back to the root', () => {
  const c = child(`
	mov $0x1b, %ecx; rdmsr; or $0xc00, %eax; wrmsr
	mov $0x80f, %ecx; mov $0x1ff, %eax; xor %edx, %edx; wrmsr
	sti; hlt
	cli; hlt
handler:
	incl ${DATA + 8}
	mov $0x80b, %ecx; xor %eax, %eax; xor %edx, %edx; wrmsr
	iretq
`, 0x52);
  const blocked = c.run(100_000);
  assert.equal(blocked.state, 1, 'halted with no timer armed: BLOCKED (the root may sleep)');
  assert.equal(c.messages.length, 0);
  c.part.assertInterrupt(0x52, { levelTriggered: true, destination: 0 });
  const r = c.run(100_000);
  assert.equal(u64(c, DATA + 8) & 0xffffffffn, 1n, 'the handler ran once');
  const eoi = c.messages[0];
  assert.equal(eoi.type, 0x80010004, 'HvMessageTypeX64ApicEoi');
  const dv = new DataView(eoi.raw.buffer);
  assert.equal(dv.getUint32(16, true), 0, 'vp_index');
  assert.equal(dv.getUint32(20, true), 0x52, 'interrupt_vector');
  assert.equal(r.event, 2);
  assert.equal(c.messages.at(-1)?.type, 0x80010007);
  // An edge-triggered interrupt produces no EOI message.
  const d = child(`
	mov $0x1b, %ecx; rdmsr; or $0xc00, %eax; wrmsr
	mov $0x80f, %ecx; mov $0x1ff, %eax; xor %edx, %edx; wrmsr
	sti; hlt
	cli; hlt
handler:
	mov $0x80b, %ecx; xor %eax, %eax; xor %edx, %edx; wrmsr
	iretq
`, 0x53);
  d.run(100_000);
  d.part.assertInterrupt(0x53, { type: HvInterruptType.FIXED });
  d.run(100_000);
  assert.deepEqual(d.messages.map((m) => m.type), [0x80010007]);
});

test('HvCallAssertVirtualInterrupt refuses reserved control bits, a non-zero VTL and types it does not model', () => {
  const c = child('cli; hlt\nhandler: iretq', 0x40);
  assert.throws(() => c.winhv.assertVirtualInterrupt(c.part.id, HvInterruptType.INIT, 0, 0, false, false), /INVALID_PARAMETER/);
  assert.throws(() => c.winhv.assertVirtualInterrupt(c.part.id, HvInterruptType.FIXED, 0x100, 0, false, false), /INVALID_PARAMETER/);
  assert.throws(() => c.winhv.assertVirtualInterrupt(c.part.id + 100, HvInterruptType.FIXED, 0x40, 0, false, false), /INVALID_PARTITION_ID/);
  c.winhv.assertVirtualInterrupt(c.part.id, HvInterruptType.FIXED, 0x40, 7, false, false); // no APIC 7: lost, not an error
});
