// VID's SynIC option: a partition created with `synic` has the SynIC privileges (AccessSynicRegs, the synthetic
// timers, PostMessages, SignalEvents) and its guest sees them in CPUID 0x40000003 — the bits Linux's hv_vmbus relies on; one created
// without has none. The root's SynIC handle and the guest-page view reach that partition and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VidPartition } from '../../src/vid/index.js';
import { HvError, HvRegister, HvStatus, PartitionProperty, Privilege, WinHv } from '../../src/winhv/index.js';
import { entryState, writeBootStructures } from '../../src/firmware/index.js';
import { CODE, le } from '../hv/child.js';

const MiB = 1 << 20;
const SYNIC_BITS = { eax: (1 << Privilege.ACCESS_SYNIC_MSRS) | (1 << Privilege.ACCESS_SYNTHETIC_TIMER_MSRS), ebx: (1 << (Privilege.POST_MESSAGES - 32)) | (1 << (Privilege.SIGNAL_EVENTS - 32)) };

/** CPUID 0x40000003 as the guest executes it: mov eax, 0x40000003; cpuid; hlt. */
function guestFeatureLeaf(winhv: WinHv, synic: boolean): { eax: number; ebx: number; edx: number; part: VidPartition } {
  const part = VidPartition.create(winhv, { memoryBytes: 2 * MiB, synic });
  writeBootStructures(part.memory);
  part.memory.write(CODE, Uint8Array.of(0xb8, ...le(0x40000003, 4), 0x0f, 0xa2, 0xf4));
  part.setInitialState(0, entryState(CODE));
  part.setInterceptHandler(() => {});
  part.run(0, 100_000);
  const [rax, rbx, rdx] = part.getRegisters(0, [HvRegister.Rax, HvRegister.Rbx, HvRegister.Rdx]) as bigint[];
  return { eax: Number(rax), ebx: Number(rbx), edx: Number(rdx), part };
}

test('synic: the partition holds the SynIC privileges and its guest sees them in CPUID 0x40000003', () => {
  const winhv = WinHv.boot({ memoryBytes: 16 * MiB, childGpaPages: 65536 });
  const plain = guestFeatureLeaf(winhv, false);
  const withSynic = guestFeatureLeaf(winhv, true);
  assert.equal(plain.eax & SYNIC_BITS.eax, 0, 'no SynIC MSRs without the option');
  assert.equal(plain.ebx & SYNIC_BITS.ebx, 0, 'no PostMessages/SignalEvents without the option');
  assert.equal(withSynic.eax & SYNIC_BITS.eax, SYNIC_BITS.eax, 'EAX bits 2, 3: SynIC MSRs, synthetic timers');
  assert.equal(withSynic.ebx & SYNIC_BITS.ebx, SYNIC_BITS.ebx, 'EBX bits 4, 5: PostMessages, SignalEvents');
  // EDX bit 19: direct-mode synthetic timers (Linux's STIMER0 at vector 0xED), only with the timers.
  assert.equal(plain.edx & (1 << 19), 0, 'no direct-mode timers without the option');
  assert.equal(withSynic.edx & ~(1 << 19), plain.edx, 'EDX bit 19 with the option, nothing else');
  assert.notEqual(withSynic.edx & (1 << 19), 0, 'EDX bit 19: direct-mode timers');
  // Nothing else changes: the rest of the leaf is the hypervisor's default for a child.
  assert.equal(withSynic.eax & ~SYNIC_BITS.eax, plain.eax);
  assert.equal(withSynic.ebx & ~SYNIC_BITS.ebx, plain.ebx);
  const priv = winhv.getPartitionProperty(withSynic.part.id, PartitionProperty.PRIVILEGE_FLAGS);
  assert.equal(priv, winhv.getPartitionProperty(plain.part.id, PartitionProperty.PRIVILEGE_FLAGS) | BigInt(SYNIC_BITS.eax) | (BigInt(SYNIC_BITS.ebx) << 32n));
  // Linux BUG()s on AccessPartitionId and believes it is the root with CpuManagement: never granted.
  assert.equal(withSynic.ebx & ((1 << (Privilege.ACCESS_PARTITION_ID - 32)) | (1 << (Privilege.CPU_MANAGEMENT - 32))), 0);
});

test('the SynIC handle serves connections of its own partition; guest pages are its RAM only', () => {
  const winhv = WinHv.boot({ memoryBytes: 16 * MiB, childGpaPages: 65536 });
  const a = VidPartition.create(winhv, { memoryBytes: 2 * MiB, synic: true });
  const b = VidPartition.create(winhv, { memoryBytes: 2 * MiB, synic: true });
  const port = a.synicPort();
  assert.equal(port.setMessageHandler(4, () => HvStatus.SUCCESS), true);
  assert.equal(port.setMessageHandler(0, () => HvStatus.SUCCESS), false, 'connection id 0 is invalid');
  assert.equal(port.setEventHandler(0x2001, 16, () => {}), true);
  assert.equal(port.setEventHandler(0x2001, 0, () => {}), false, 'no flags is invalid');
  assert.equal(port.signalEvent(0, 2, 1), HvStatus.SUCCESS, 'signalling VP 0 SINT2 is accepted');
  assert.notEqual(port.postMessage(5, 2, 1, Uint8Array.of(1)), HvStatus.SUCCESS, 'no VP 5');
  const pa = a.guestPages(), pb = b.guestPages();
  a.memory.write(0x3000, Uint8Array.of(0x5a));
  b.memory.write(0x3000, Uint8Array.of(0xa5));
  assert.equal(pa.page(3)?.[0], 0x5a);
  assert.equal(pb.page(3)?.[0], 0xa5);
  assert.equal(pa.page(3)?.length, 4096);
  assert.equal(pa.page(3)!.byteOffset % 8, 0);
  pa.page(4)![17] = 0x77;
  assert.equal(a.memory.read(0x4011, 1)[0], 0x77, 'a write through the view is guest RAM');
  for (const pfn of [512, -1, 1.5, Number.MAX_SAFE_INTEGER, NaN]) assert.equal(pa.page(pfn), null, `pfn ${pfn}`);
  a.delete();
  assert.equal(pa.page(3), null, 'nothing after the partition is deleted');
  assert.throws(() => port.setMessageHandler(4, null), HvError, 'the handle dies with the partition');
});
