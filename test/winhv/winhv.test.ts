// WinHv as the root's components use it: typed calls, HvError with the TLFS status name, register round
// trips, partition properties and the CPUID table reaching a running guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HvError, HvRegister, PartitionProperty, WinHv } from '../../src/winhv/index.js';
import { Child, le } from '../hv/child.js';

test('failures are HvError values naming the TLFS status', () => {
  const w = WinHv.boot({ memoryBytes: 8 << 20, childGpaPages: 4096 });
  const id = w.createPartition();
  w.initializePartition(id);
  assert.throws(() => w.initializePartition(id), (e: unknown) => e instanceof HvError && e.statusName === 'HV_STATUS_INVALID_PARTITION_STATE' && e.status === 7
    && /HvCallInitializePartition failed: HV_STATUS_INVALID_PARTITION_STATE/.test(e.message));
  assert.throws(() => w.createVp(id + 100, 0), (e: unknown) => e instanceof HvError && e.statusName === 'HV_STATUS_INVALID_PARTITION_ID');
  assert.throws(() => w.setPartitionProperty(id, PartitionProperty.PRIVILEGE_FLAGS, 1n << 32n), (e: unknown) => e instanceof HvError && e.statusName === 'HV_STATUS_INVALID_PARTITION_STATE');
  const id2 = w.createPartition();
  assert.throws(() => w.setPartitionProperty(id2, PartitionProperty.PRIVILEGE_FLAGS, 1n << 32n), (e: unknown) => e instanceof HvError && e.statusName === 'HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE',
    'a child may not be given CreatePartitions');
  w.setPartitionProperty(id2, PartitionProperty.PRIVILEGE_FLAGS, (1n << 36n) | (1n << 37n));
  assert.equal(w.getPartitionProperty(id2, PartitionProperty.PRIVILEGE_FLAGS), (1n << 36n) | (1n << 37n));
  assert.equal(w.getPartitionProperty(id, PartitionProperty.PROCESSOR_CLOCK_FREQUENCY), 1_000_000_000n);
  const pages = w.pages.allocate(600)!;
  w.mapGpaPages(id, 0, 3, pages); // more than one input page of source pages: chunked
  const info = w.inspectHypervisor() as { memory: { pagesMappedIntoChildren: number } };
  assert.equal(info.memory.pagesMappedIntoChildren, 600);
});

test('registers round-trip, including segments and descriptor tables', () => {
  const w = WinHv.boot({ memoryBytes: 8 << 20, childGpaPages: 4096 });
  const id = w.createPartition();
  w.initializePartition(id);
  w.createVp(id, 0);
  w.setVpRegisters(id, 0, [
    [HvRegister.R15, 0xfedcba9876543210n],
    [HvRegister.Ss, { selector: 0x18, base: 0x1000n, limit: 0xfffff, attributes: 0xc093 }],
    [HvRegister.Idtr, { base: 0xffff800000001000n, limit: 0xfff }],
    [HvRegister.Lstar, 0xffffffff81000000n],
  ]);
  const [r15, ss, idtr, lstar] = w.getVpRegisters(id, 0, [HvRegister.R15, HvRegister.Ss, HvRegister.Idtr, HvRegister.Lstar]);
  assert.equal(r15, 0xfedcba9876543210n);
  assert.deepEqual(ss, { selector: 0x18, base: 0x1000n, limit: 0xfffff, attributes: 0xc093 });
  assert.deepEqual(idtr, { base: 0xffff800000001000n, limit: 0xfff });
  assert.equal(lstar, 0xffffffff81000000n);
});

test('the CPUID table set through the hypervisor is what the guest reads', () => {
  // cpuid with eax = 0x40000100, ecx = 7; keep results in r8..r11; hlt.
  const c = new Child([0xb8, ...le(0x40000100, 4), 0xb9, ...le(7, 4), 0x0f, 0xa2, 0x49, 0x89, 0xc0, 0x49, 0x89, 0xd9, 0x49, 0x89, 0xca, 0x49, 0x89, 0xd3, 0xf4]);
  c.part.setCpuid([{ leaf: 0x40000100, subleaf: 7, eax: 0x11, ebx: 0x22, ecx: 0x33, edx: 0x44 }, { leaf: 0x40000100, eax: 1, ebx: 2, ecx: 3, edx: 4 }]);
  c.run();
  assert.deepEqual([c.reg('R8'), c.reg('R9'), c.reg('R10'), c.reg('R11')], [0x11n, 0x22n, 0x33n, 0x44n]);
});
