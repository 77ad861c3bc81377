// VID: guest memory access by GPA is checked against the child's RAM, and root writes reach a running VP
// (decoded code is dropped); partitions that do not fit are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VidError, VidPartition } from '../../src/vid/index.js';
import { HvRegister, WinHv } from '../../src/winhv/index.js';
import { Child, CODE, le } from '../hv/child.js';

test('guest memory access outside RAM is refused', () => {
  const c = new Child([0xf4]);
  const m = c.part.memory;
  assert.equal(m.byteLength, 2 << 20);
  assert.throws(() => m.read((2 << 20) - 4, 8), VidError);
  assert.throws(() => m.write(-1, Uint8Array.of(1)), VidError);
  assert.throws(() => m.write(0.5, Uint8Array.of(1)), VidError);
  assert.throws(() => m.read(Number.MAX_SAFE_INTEGER, 1), VidError);
  m.write(0x1ffffe, Uint8Array.of(7, 8));
  assert.deepEqual([...m.read(0x1ffffe, 2)], [7, 8]);
  m.writeU64(0x10ffc, 0x1122334455667788n); // across a page boundary
  assert.equal(m.readU64(0x10ffc), 0x1122334455667788n);
});

test('a root write to guest code takes effect on the next run', () => {
  // mov eax, 1; hlt (with IF=0 this ends the dispatch)
  const c = new Child([0xb8, ...le(1, 4), 0xf4]);
  c.run();
  assert.equal(c.reg('Rax'), 1n);
  c.part.memory.write(CODE + 1, Uint8Array.from(le(2, 4)));
  c.part.setInitialState(0, { ...entryAt(CODE) });
  c.run(); // the VP is suspended on the halt; rerun after clearing
  c.part.run(0, 100_000, 1);
  assert.equal(c.reg('Rax'), 2n, 'the decoded block was dropped, not reused');
});

function entryAt(rip: number): Parameters<VidPartition['setInitialState']>[1] {
  return {
    rip: BigInt(rip), rsp: 0x80000n, rflags: 2n, cr0: 0x80010033n, cr3: 0x1000n, cr4: 0x620n, efer: 0xd00n,
    gdtr: { base: 0x4000n, limit: 0x17 }, idtr: { base: 0n, limit: 0 },
    cs: { selector: 8, base: 0n, limit: 0xffffffff, attributes: 0xa09b },
    ds: { selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xc093 },
    es: { selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xc093 },
    fs: { selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xc093 },
    gs: { selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xc093 },
    ss: { selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xc093 },
  };
}

test('partitions that do not fit are refused with a clear message', () => {
  const w = WinHv.boot({ memoryBytes: 8 << 20, childGpaPages: 4096 });
  assert.throws(() => VidPartition.create(w, { memoryBytes: 64 << 20 }), /not enough root memory/);
  assert.throws(() => VidPartition.create(w, { memoryBytes: 1000 }), /multiple of 4 KiB/);
  assert.throws(() => VidPartition.create(w, { memoryBytes: 1 << 20, vpCount: 0 }), /VP count/);
  const free = w.pages.freeCount;
  const p = VidPartition.create(w, { memoryBytes: 1 << 20, vpCount: 2 });
  assert.equal(p.vpCount, 2);
  p.delete();
  p.delete(); // idempotent
  assert.equal(w.pages.freeCount, free);
});

test("the root reads a VP's reference time (HvRegisterTimeRefCount) as the guest's own TIME_REF_COUNT MSR does", () => {
  // mov ecx, 200000; l: dec ecx; jnz l; mov ecx, 0x40000020; rdmsr; hlt — the guest reads its reference counter
  // (edx:eax) after ~400k instructions, then halts with IF=0 (ending the dispatch).
  const c = new Child([0xb9, ...le(200000, 4), 0xff, 0xc9, 0x75, 0xfc, 0xb9, ...le(0x40000020, 4), 0x0f, 0x32, 0xf4]);
  assert.equal(c.part.referenceTime(0), 0);
  c.run(1_000_000);
  const guest = Number((c.reg('Rdx') << 32n) | (c.reg('Rax') & 0xffffffffn));
  const root = c.part.referenceTime(0);
  assert.ok(guest > 30_000, `the guest's counter advanced with its instructions (${guest})`);
  // The root reads it after two more instructions (rdmsr's successor and hlt): at most one 100 ns step later.
  assert.ok(root >= guest && root <= guest + 1, `root ${root} vs guest ${guest}`);
  assert.throws(() => c.part.setRegisters(0, [[HvRegister.TimeRefCount, 5n]]), /INVALID_REGISTER_VALUE/, 'never backwards');
});

test("the root moves a VP's clock forward, never back, and the guest's own counter follows", () => {
  // The same guest: ~400k instructions, then it reads TIME_REF_COUNT and halts.
  const c = new Child([0xb9, ...le(200000, 4), 0xff, 0xc9, 0x75, 0xfc, 0xb9, ...le(0x40000020, 4), 0x0f, 0x32, 0xf4]);
  c.part.setReferenceTime(0, 10_000_000); // one second on
  assert.equal(c.part.referenceTime(0), 10_000_000);
  c.part.setReferenceTime(0, 10_000_000); // the same time again is not a step back
  assert.throws(() => c.part.setReferenceTime(0, 9_999_999), /INVALID_REGISTER_VALUE/);
  assert.throws(() => c.part.setRegisters(0, [[HvRegister.TimeRefCount, 1n << 62n]]), /INVALID_REGISTER_VALUE/, 'absurdly far');
  c.run(1_000_000);
  const guest = Number((c.reg('Rdx') << 32n) | (c.reg('Rax') & 0xffffffffn));
  assert.ok(guest > 10_030_000 && guest < 10_100_000, `the guest's counter went on from the new time (${guest})`);
  assert.ok(c.part.referenceTime(0) >= guest);
});

test('a write through guestPages() reported to written() drops the code decoded from those pages, as a DMA write would', () => {
  // mov eax, 1; hlt — run once so the block is decoded and cached, then change the immediate through the VMBus
  // view of the page (as storvsp does with a disk read into the guest's page cache) and run it again.
  const c = new Child([0xb8, ...le(1, 4), 0xf4]);
  c.run();
  assert.equal(c.reg('Rax'), 1n);
  const pages = c.part.guestPages();
  const pfn = Math.floor(CODE / 4096);
  pages.page(pfn)!.set(le(2, 4), (CODE % 4096) + 1);
  pages.written(Float64Array.of(pfn - 1, pfn, pfn + 1), 3);
  c.part.setInitialState(0, { ...entryAt(CODE) });
  c.part.run(0, 100_000, 1);
  assert.equal(c.reg('Rax'), 2n, 'the decoded block was dropped, not reused');
});
