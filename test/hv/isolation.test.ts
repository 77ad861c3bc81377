// Isolation: a child reaches only what is mapped into it. Accesses elsewhere become intercepts (or all-ones)
// and never touch host memory; root-only hypercalls from a child are refused; deleting a child gives
// everything back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Child, CODE, le } from './child.js';
import { MapGpaFlags } from '../../src/winhv/index.js';
import { VidPartition } from '../../src/vid/index.js';

const VMCALL = [0x0f, 0x01, 0xc1];
const HLT = [0xf4];
const movEcx = (v: number): number[] => [0xb9, ...le(v, 4)];

test('a child touching SPA memory outside its map gets an intercept, all-ones, and leaves the canary alone', () => {
  // Probe code: RAX = target GPA; EBX = [RAX]; [RAX] = 0x12345678; hlt.
  const probe = (gpa: number): number[] => [0x48, 0xb8, ...le(gpa, 8), 0x8b, 0x18, 0xc7, 0x00, ...le(0x12345678, 4), ...HLT];
  for (const withHandler of [true, false]) {
    // A canary in a root page that is not mapped into the child. Its SPA number is also a GPA the child can
    // name (inside its GPA space, outside its RAM): the access must not reach the canary.
    const c0 = new Child([], 2 << 20, withHandler ? 'record' : null);
    const canaryPage = c0.winhv.pages.allocate(1)![0];
    const canaryGpa = canaryPage * 4096;
    const mem = c0.winhv.memory;
    mem.fill(0xa5, canaryGpa, canaryGpa + 4096);
    c0.part.memory.write(0x100000, Uint8Array.from(probe(canaryGpa)));
    const r = c0.run();
    assert.equal(r.event, 2, 'the VP stopped on an intercept (the final HLT with interrupts off)');
    assert.equal(c0.reg('Rbx'), 0xffffffffn, 'unbacked reads return all-ones');
    assert.ok(mem.subarray(canaryGpa, canaryGpa + 4096).every((b) => b === 0xa5), 'canary untouched');
    if (withHandler) {
      const [rd, wr, halt] = c0.messages;
      assert.equal(rd.type, 0x80000000, 'HvMessageTypeUnmappedGpa');
      assert.equal(rd.gpa, canaryGpa);
      assert.equal(rd.access, 0);
      assert.equal(new DataView(rd.raw.buffer).getUint32(0, true), 0x80000000, 'message type at offset 0');
      assert.equal(Number(new DataView(rd.raw.buffer).getBigUint64(72, true)), canaryGpa, 'guest_physical_address at offset 72');
      assert.equal(wr.type, 0x80000000);
      assert.equal(wr.access, 1);
      assert.equal(wr.data, 0x12345678);
      assert.equal(halt.type, 0x80010007, 'HvMessageTypeX64Halt');
    } else {
      assert.equal(c0.messages.length, 0);
    }
  }
});

test('a mapping without the needed right is a GPA access violation', () => {
  const c = new Child([0x48, 0xb8, ...le(0x300000, 8), 0x8b, 0x18, 0xc7, 0x00, ...le(0x11, 4), 0x8b, 0x08, ...HLT]);
  const page = c.winhv.pages.allocate(1)![0];
  new DataView(c.winhv.memory.buffer).setUint32(page * 4096, 0xcafebabe, true);
  c.winhv.mapGpaPages(c.part.id, 0x300, MapGpaFlags.READABLE, [page]);
  c.run();
  assert.equal(c.reg('Rbx'), 0xcafebaben, 'reads of a read-only page see its contents');
  assert.equal(c.reg('Rcx'), 0xcafebaben, 'the refused write changed nothing');
  assert.equal(c.messages[0].type, 0x80000001, 'HvMessageTypeGpaIntercept');
  assert.equal(c.messages[0].gpa, 0x300000);
  assert.equal(c.messages[0].access, 1);
});

test('root-only hypercalls through VMCALL return ACCESS_DENIED; unknown codes INVALID_HYPERCALL_CODE', () => {
  const code = [
    ...movEcx(0x0040), 0x31, 0xd2, 0x45, 0x31, 0xc0, ...VMCALL, 0x49, 0x89, 0xc4, // CreatePartition -> r12
    ...movEcx(0x004b), ...VMCALL, 0x49, 0x89, 0xc5, // MapGpaPages -> r13
    ...movEcx(0x00c2), ...VMCALL, 0x49, 0x89, 0xc6, // DispatchVp -> r14
    ...movEcx(0x7777), ...VMCALL, 0x49, 0x89, 0xc7, // unknown -> r15
    ...HLT,
  ];
  const c = new Child(code);
  const before = c.winhv.inspectHypervisor() as { partitions: unknown[] };
  c.run();
  assert.equal(c.reg('R12'), 6n);
  assert.equal(c.reg('R13'), 6n);
  assert.equal(c.reg('R14'), 6n);
  assert.equal(c.reg('R15'), 2n);
  const after = c.winhv.inspectHypervisor() as { partitions: unknown[] };
  assert.equal(after.partitions.length, before.partitions.length, 'no partition was created');
});

test('I/O ports: all-ones without an intercept, the root\'s answer with one, in the TLFS message layout', () => {
  const code = [0xe4, 0x80, 0x48, 0x89, 0xc3, /* in al,0x80; mov rbx,rax */ 0x66, 0xba, 0x78, 0x05, 0x66, 0xb8, 0x34, 0x12, 0x66, 0xef, /* mov dx,0x578; mov ax,0x1234; out dx,ax */
    0x66, 0xed, 0x48, 0x89, 0xc1, /* in ax,dx; mov rcx,rax */ ...HLT];
  const c = new Child(code, 2 << 20, (m) => {
    c.record(m);
    if (m.accessType === 0) m.value = 0xbeef;
  });
  c.part.installIoIntercept(0x578);
  c.run();
  assert.equal(c.reg('Rbx') & 0xffn, 0xffn, 'port 0x80 has no intercept: all-ones');
  assert.equal(c.reg('Rcx') & 0xffffn, 0xbeefn);
  const [w, r] = c.messages;
  const dv = new DataView(w.raw.buffer);
  assert.equal(dv.getUint32(0, true), 0x80010000, 'HvMessageTypeX64IoPortIntercept');
  assert.equal(dv.getUint16(56, true), 0x578, 'port_number at 56');
  assert.equal(dv.getUint8(58) & 7, 2, 'access_info.access_size at 58');
  assert.equal(dv.getUint8(21), 1, 'intercept_access_type: write');
  assert.equal(dv.getBigUint64(64, true) & 0xffffn, 0x1234n, 'rax at 64');
  assert.equal(dv.getUint16(36, true), 0x10, "cs selector in the header (the firmware enters with Linux's __BOOT_CS)");
  assert.equal(dv.getUint8(20) & 0xf, 2, 'instruction_length of "out dx, ax" (66 EF) at 20');
  assert.equal(dv.getBigUint64(40, true), BigInt(CODE + 13), 'rip at 40: the intercepted instruction itself');
  assert.equal(r.access, 0);
});

test('an unknown MSR raises #GP; with no IDT that is a triple fault, reported as an unrecoverable exception', () => {
  const c = new Child([...movEcx(0x12345678), 0x0f, 0x32, ...HLT]);
  const r = c.run();
  assert.equal(r.event, 2);
  assert.equal(c.messages.at(-1)!.type, 0x80000021, 'HvMessageTypeUnrecoverableException');
  assert.equal(c.run().event, 2, 'a VP in shutdown stays there');
});

test('deleting a partition unmaps its pages and returns them to the root and the hypervisor pool', () => {
  const c = new Child([...HLT]);
  const hvInfo = (): { hypervisorPoolFree: number; pagesMappedIntoChildren: number } =>
    (c.winhv.inspectHypervisor() as { memory: { hypervisorPoolFree: number; pagesMappedIntoChildren: number } }).memory;
  c.part.delete();
  const rootFree = c.winhv.pages.freeCount;
  const pool = hvInfo().hypervisorPoolFree;
  assert.equal(hvInfo().pagesMappedIntoChildren, 0);

  // A fresh child takes 4 MiB of root pages and 2 pool pages (VP state, intercept message page)...
  const p = VidPartition.create(c.winhv, { memoryBytes: 4 << 20 });
  assert.equal(c.winhv.pages.freeCount, rootFree - 1024);
  assert.equal(hvInfo().hypervisorPoolFree, pool - 2);
  assert.equal(hvInfo().pagesMappedIntoChildren, 1024);
  p.memory.write(0x1000, Uint8Array.of(1, 2, 3));
  p.delete();
  // ...and gives all of it back.
  assert.equal(c.winhv.pages.freeCount, rootFree);
  assert.equal(hvInfo().hypervisorPoolFree, pool);
  assert.equal(hvInfo().pagesMappedIntoChildren, 0);
  // Reused pages come back zeroed: no data leaks from one child to the next.
  const p2 = VidPartition.create(c.winhv, { memoryBytes: 4 << 20 });
  for (let g = 0; g < 4 << 20; g += 1 << 20) assert.ok(p2.memory.read(g, 1 << 20).every((b) => b === 0));
  p2.delete();
});

test('an intercept handler cannot re-dispatch the VP it is handling', () => {
  let status = '';
  const c = new Child([0xe6, 0x80, 0xf4], 2 << 20, (m) => {
    try { c.part.run(0, 1000); } catch (e) { status = (e as { statusName: string }).statusName; }
    void m;
  });
  c.part.installIoIntercept(0x80);
  c.run();
  assert.equal(status, 'HV_STATUS_INVALID_VP_STATE');
});
