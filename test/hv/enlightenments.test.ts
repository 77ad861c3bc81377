// The Hyper-V guest interface from the hypervisor's side: a child partition's CPUID table, the synthetic MSRs
// as a VP's platform answers them, the pages the hypervisor fills, and the reference TSC page checked with
// the guest's own formula (Linux hv_read_tsc_page: ((tsc * scale) >> 64) + offset, re-implemented here with
// BigInt from the TLFS). Expected values are written out from the TLFS / Linux headers, not taken from the
// hypervisor's tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hypervisor, RIGHTS_RWX, type Partition, type VirtualProcessor } from '../../src/hv/index.js';
import { GPA_READ, softwareCpuidProfile, type CpuidResult } from '../../src/vp/index.js';
import { S_APIC_BASE, S_TSC_OFFSET } from '../../src/vp/x86/state.js';
import { VIRTUAL_TSC_HZ } from '../../src/hv/virtual-time.js';

const MiB = 1 << 20;
const RAM_PAGES = 512; // 2 MiB of RAM at GPA 0

interface Setup { hv: Hypervisor; p: Partition; vp: VirtualProcessor; u8: Uint8Array; dv: DataView }

/** A child with RAM at GPA 0 and one VP, built directly on the hypervisor's objects. */
function child(vps = 1): Setup {
  const hv = new Hypervisor({ memoryBytes: 16 * MiB, childGpaPages: 8192 });
  const p = hv.newChildPartition(hv.root, 0)!;
  const first = hv.pool.pageCount + 64;
  for (let g = 0; g < RAM_PAGES; g++) p.map.map(g, first + g, RIGHTS_RWX);
  for (let i = 0; i < vps; i++) assert.ok(hv.newVp(p, i));
  return { hv, p, vp: p.vps[0]!, u8: hv.memory.u8, dv: hv.memory.view };
}

const out = new Int32Array(2);
function rd(vp: VirtualProcessor, msr: number): bigint | 'gp' {
  if (!vp.rdmsr(msr, out)) return 'gp';
  return (BigInt(out[1] >>> 0) << 32n) | BigInt(out[0] >>> 0);
}
function wr(vp: VirtualProcessor, msr: number, v: bigint): boolean {
  return vp.wrmsr(msr, Number(v & 0xffffffffn) | 0, Number((v >> 32n) & 0xffffffffn) | 0);
}
function leaf(p: Partition, l: number): CpuidResult {
  const r = p.cpuid.get(l.toString(16)) ?? { eax: 0, ebx: 0, ecx: 0, edx: 0 };
  return { eax: r.eax >>> 0, ebx: r.ebx >>> 0, ecx: r.ecx >>> 0, edx: r.edx >>> 0 };
}
function hostOf(s: Setup, gpa: number): number {
  return s.p.map.spaPage[Math.floor(gpa / 4096)] * 4096 + (gpa % 4096);
}

test('a child partition CPUID table: the processor profile plus the Hyper-V leaves Linux detects', () => {
  const s = child();
  const t = s.p.cpuid;
  // Everything from the processor profile is there unchanged, except the hypervisor-present bit.
  const prof = softwareCpuidProfile();
  for (const [k, v] of prof) {
    const got = t.get(k)!;
    if (k === '1') assert.deepEqual({ ...got, ecx: got.ecx & 0x7fffffff }, v);
    else assert.deepEqual(got, v, `leaf ${k}`);
  }
  assert.equal((prof.get('1')!.ecx >>> 31) & 1, 0, 'the bare processor reports no hypervisor');
  assert.equal((t.get('1')!.ecx >>> 31) & 1, 1, 'CPUID.1:ECX[31]: a hypervisor is present');
  // 0x40000000: max leaf 0x40000005 (Linux needs 0x40000005..0x4000FFFF), "Microsoft Hv".
  assert.deepEqual(leaf(s.p, 0x40000000), { eax: 0x40000005, ebx: 0x7263694d, ecx: 0x666f736f, edx: 0x76482074 });
  assert.deepEqual(leaf(s.p, 0x40000001), { eax: 0x31237648, ebx: 0, ecx: 0, edx: 0 }, '"Hv#1"');
  // 0x40000003 EAX: VP runtime (0), reference counter (1), APIC MSRs and VP assist page (4), hypercall MSRs
  // (5), VP index (6), reference TSC (9), frequency MSRs (11) = 0xA73. Not SynIC (2), synthetic timers (3),
  // TSC invariant (15). EBX: no hypercall privileges yet (no PostMessages/SignalEvents without VMBus; never
  // AccessPartitionId, CpuManagement, extended hypercalls or isolation). EDX: frequency MSRs available (8),
  // guest crash MSRs (10), hypercall MSR lock (18).
  assert.deepEqual(leaf(s.p, 0x40000003), { eax: 0x00000a73, ebx: 0, ecx: 0, edx: 0x00040500 });
  // 0x40000004 EAX: relaxed timing (5), deprecating auto-EOI (9); no TLB-flush, APIC-MSR or IPI hypercall
  // recommendations. EBX: never notify long spin waits.
  assert.deepEqual(leaf(s.p, 0x40000004), { eax: 0x00000220, ebx: 0xffffffff, ecx: 0, edx: 0 });
  assert.deepEqual(leaf(s.p, 0x40000005), { eax: 64, ebx: 64, ecx: 0, edx: 0 });
  // Nothing else in the hypervisor range: no KVM/Xen/VMware signature for another detector to prefer.
  for (const k of t.keys()) {
    const n = parseInt(k.split(':')[0], 16);
    if (n >= 0x40000000 && n < 0x50000000) assert.ok(n <= 0x40000005, `unexpected hypervisor leaf ${k}`);
  }
  // The root (no VPs, not a guest) gets no hypervisor leaves.
  assert.equal(s.hv.root.cpuid.get('40000000'), undefined);
});

test('CPUID 0x40000003 follows the privileges the root sets, and reports only implemented ones', () => {
  const s = child();
  const r = s.hv.rootInterface();
  const dv = new DataView(r.memory.buffer);
  const inGpa = r.rootFirstPage * 4096;
  // HvCallSetPartitionProperty(PRIVILEGE_FLAGS): hypercall MSRs (5), VP index (6), SynIC (2), AccessPartitionId
  // (33), PostMessages (36), synthetic timers (3) and the reset MSR (7, not implemented).
  dv.setBigUint64(inGpa, BigInt(s.p.id), true);
  dv.setUint32(inGpa + 8, 0x00010000, true);
  dv.setBigUint64(inGpa + 16, (1n << 5n) | (1n << 6n) | (1n << 2n) | (1n << 3n) | (1n << 7n) | (1n << 33n) | (1n << 36n), true);
  r.hypercall(0x0045, 0, inGpa, 0, 0, 0);
  assert.equal(r.result[0], 0);
  // EDX bit 19: direct-mode synthetic timers, reported with the timers.
  assert.deepEqual(leaf(s.p, 0x40000003), { eax: 0x6c, ebx: 0x12, ecx: 0, edx: 0x000c0400 }, 'no frequency MSRs without their privilege (the crash MSRs need none)');
  // Without the privilege the MSRs are not the hypervisor's: #GP (no root intercept installed).
  assert.equal(rd(s.vp, 0x40000020), 'gp', 'TIME_REF_COUNT');
  assert.equal(rd(s.vp, 0x40000022), 'gp', 'TSC_FREQUENCY');
  assert.equal(rd(s.vp, 0x40000080), 0n, 'SCONTROL: the SynIC privilege is held');
  assert.equal(rd(s.vp, 0x400000b0), 0n, 'STIMER0_CONFIG: the synthetic-timer and SynIC privileges are held');
  assert.equal(rd(s.vp, 0x40000003), 'gp', 'HV_X64_MSR_RESET: privilege held but not implemented');
  assert.equal(rd(s.vp, 0x40000002), 0n, 'VP_INDEX still there');
});

test('read-only synthetic MSRs: VP index, reference time, VP runtime, frequencies', () => {
  const s = child(3);
  assert.equal(rd(s.p.vps[2]!, 0x40000002), 2n, 'VP_INDEX is the VP index');
  assert.equal(rd(s.vp, 0x40000022), BigInt(VIRTUAL_TSC_HZ), 'TSC_FREQUENCY in Hz');
  const apicHz = rd(s.vp, 0x40000023);
  assert.ok(typeof apicHz === 'bigint' && apicHz >= 1_000_000n, 'APIC_FREQUENCY in Hz');
  // Reference time is 100 ns units of the VP's virtual clock: 1 GHz TSC, 10 ticks per instruction.
  s.vp.cpu.icount = 123_456_789;
  s.vp.skippedInstructions = 1_000_001;
  assert.equal(rd(s.vp, 0x40000020), (123_456_789n + 1_000_001n) * 10n / 100n, 'TIME_REF_COUNT counts halted time too');
  assert.equal(rd(s.vp, 0x40000010), 123_456_789n * 10n / 100n, 'VP_RUNTIME counts only time spent running');
  for (const msr of [0x40000002, 0x40000010, 0x40000020, 0x40000022, 0x40000023]) {
    assert.equal(wr(s.vp, msr, 0n), false, `write to read-only MSR 0x${msr.toString(16)} is #GP`);
  }
  assert.equal(s.p.synthetic.counters.msrRefusals, 5);
});

test('the hypercall MSR: guest OS ID first, reserved bits, GPAs outside RAM, the page contents, locking', () => {
  const s = child();
  const gpa = 0x5000, host = hostOf(s, gpa);
  s.u8.fill(0x90, host, host + 4096);
  assert.equal(rd(s.vp, 0x40000001), 0n);
  // Without a guest OS ID the write succeeds but the enable bit stays clear and nothing is written.
  assert.equal(wr(s.vp, 0x40000001, BigInt(gpa) | 1n), true);
  assert.equal(rd(s.vp, 0x40000001), BigInt(gpa));
  assert.equal(s.u8[host], 0x90);
  assert.equal(wr(s.vp, 0x40000000, 0x8100000601770000n), true);
  assert.equal(rd(s.vp, 0x40000000), 0x8100000601770000n);
  // Refused: reserved bits 2..11, a page beyond MAXPHYADDR (39 bits), a page that is not RAM, read-only RAM.
  assert.equal(wr(s.vp, 0x40000001, BigInt(gpa) | 1n | 0x800n), false);
  assert.equal(wr(s.vp, 0x40000001, (1n << 39n) | 1n), false);
  assert.equal(wr(s.vp, 0x40000001, BigInt(RAM_PAGES * 4096) | 1n), false);
  s.p.map.rights[7] = GPA_READ;
  assert.equal(wr(s.vp, 0x40000001, 0x7000n | 1n), false, 'a page the partition cannot write is not filled for it');
  assert.equal(rd(s.vp, 0x40000001), BigInt(gpa), 'refused writes change nothing');
  // Decoded code on the page is dropped when the hypervisor fills it.
  s.vp.cpu.markCodePage(gpa / 4096);
  const before = s.vp.cpu.stats.blocksInvalidated;
  assert.equal(wr(s.vp, 0x40000001, BigInt(gpa) | 1n), true);
  assert.equal(s.vp.cpu.codePage[gpa / 4096], 0, 'the VP forgets the page held code');
  assert.ok(s.vp.cpu.stats.blocksInvalidated >= before);
  assert.deepEqual([...s.u8.subarray(host, host + 5)], [0x0f, 0x01, 0xc1, 0xc3, 0xcc], 'VMCALL; RET; INT3...');
  assert.ok(s.u8.subarray(host + 4, host + 4096).every((b) => b === 0xcc));
  assert.equal(rd(s.vp, 0x40000001), BigInt(gpa) | 1n);
  // Zeroing the guest OS ID disables the page (TLFS).
  assert.equal(wr(s.vp, 0x40000000, 0n), true);
  assert.equal(rd(s.vp, 0x40000001), BigInt(gpa));
  // Locked: immutable afterwards.
  assert.equal(wr(s.vp, 0x40000000, 1n), true);
  assert.equal(wr(s.vp, 0x40000001, BigInt(gpa) | 3n), true);
  assert.equal(wr(s.vp, 0x40000001, 0n), false);
  assert.equal(rd(s.vp, 0x40000001), BigInt(gpa) | 3n);
});

test('the VP assist page and the synthetic APIC MSRs (privilege AccessIntrCtrlRegs)', () => {
  const s = child(2);
  const gpa = 0x7000, host = hostOf(s, gpa);
  s.u8.fill(0xaa, host, host + 4096);
  assert.equal(rd(s.vp, 0x40000073), 0n);
  assert.equal(wr(s.vp, 0x40000073, BigInt(gpa) | 2n), false, 'reserved bit 1');
  assert.equal(wr(s.vp, 0x40000073, BigInt(RAM_PAGES * 4096) | 1n), false, 'not RAM');
  assert.equal(s.u8[host], 0xaa, 'refused writes leave the page alone');
  assert.equal(wr(s.vp, 0x40000073, BigInt(gpa) | 1n), true);
  assert.ok(s.u8.subarray(host, host + 4096).every((b) => b === 0), 'enabling zeroes the page');
  assert.equal(rd(s.vp, 0x40000073), BigInt(gpa) | 1n);
  assert.equal(rd(s.p.vps[1]!, 0x40000073), 0n, 'the assist page is per VP');
  s.u8[host] = 5;
  assert.equal(wr(s.vp, 0x40000073, BigInt(gpa) | 1n), true);
  assert.equal(s.u8[host], 5, 'rewriting the same page does not clear it again');
  assert.equal(wr(s.vp, 0x40000073, 0n), true);
  assert.equal(rd(s.vp, 0x40000073), 0n);
  // TPR: bits 7:0, CR8 = TPR[7:4]; reserved bits #GP.
  assert.equal(wr(s.vp, 0x40000072, 0x30n), true);
  assert.equal(rd(s.vp, 0x40000072), 0x30n);
  assert.equal(s.vp.engine.getRegister('cr8'), 3n);
  assert.equal(wr(s.vp, 0x40000072, 0x100n), false);
  // EOI: write-only; a write retires the highest in-service vector.
  assert.equal(rd(s.vp, 0x40000070), 'gp');
  const eois = s.vp.apic.stats.eois;
  assert.equal(wr(s.vp, 0x40000070, 0n), true);
  assert.equal(s.vp.apic.stats.eois, eois + 1);
  // ICR (xAPIC layout, destination in bits 63:56): a fixed self IPI (shorthand 01) lands in this APIC's IRR.
  assert.equal(wr(s.vp, 0x40000072, 0n), true);
  s.vp.apic.mmioWrite(0xf0, 4, 0x1ff); // spurious-vector register: software-enable the APIC
  assert.equal(wr(s.vp, 0x40000071, 0x0000000100000000n), false, 'xAPIC ICR high bits 55:32 are reserved');
  assert.equal(wr(s.vp, 0x40000071, 0x0100000000044041n), true);
  assert.equal(s.vp.apic.irr[0x41 >>> 5] & (1 << (0x41 & 31)), 1 << (0x41 & 31));
  assert.equal(rd(s.vp, 0x40000071), 0x0100000000044041n);
  // With the local APIC disabled (IA32_APIC_BASE.EN clear) the APIC MSRs #GP; the assist page does not care.
  s.vp.cpu.s[S_APIC_BASE] &= ~0x800;
  assert.equal(rd(s.vp, 0x40000072), 'gp');
  assert.equal(wr(s.vp, 0x40000070, 0n), false);
  assert.equal(wr(s.vp, 0x40000073, BigInt(gpa) | 1n), true);
});

test('the partition-wide MSRs are shared by every VP', () => {
  const s = child(2);
  const other = s.p.vps[1]!;
  assert.equal(wr(s.vp, 0x40000000, 0x1234n), true);
  assert.equal(rd(other, 0x40000000), 0x1234n);
  assert.equal(wr(other, 0x40000001, 0x3000n | 1n), true);
  assert.equal(rd(s.vp, 0x40000001), 0x3001n);
});

/** Linux's hv_read_tsc_page_tsc, from the page bytes in guest memory, with the guest's own RDTSC value. */
function guestReferenceTime(s: Setup, pageGpa: number, tsc: bigint): bigint | null {
  const h = hostOf(s, pageGpa);
  const seq = s.dv.getUint32(h, true);
  if (seq === 0) return null; // "use the MSR"
  const scale = s.dv.getBigUint64(h + 8, true);
  const offset = s.dv.getBigInt64(h + 16, true);
  return BigInt.asUintN(64, ((tsc * scale) >> 64n) + offset);
}

function guestTsc(vp: VirtualProcessor): bigint {
  const o = new Int32Array(2);
  vp.readTsc(o);
  const plat = (BigInt(o[1] >>> 0) << 32n) | BigInt(o[0] >>> 0);
  const off = (BigInt(vp.cpu.s[S_TSC_OFFSET + 1] >>> 0) << 32n) | BigInt(vp.cpu.s[S_TSC_OFFSET] >>> 0);
  return BigInt.asUintN(64, plat + off);
}

test('the reference TSC page gives the guest exactly TIME_REF_COUNT from its TSC', () => {
  const s = child();
  const gpa = 0x9000;
  s.u8.fill(0xee, hostOf(s, gpa), hostOf(s, gpa) + 4096);
  assert.equal(rd(s.vp, 0x40000021), 0n);
  assert.equal(wr(s.vp, 0x40000021, BigInt(gpa) | 2n), false, 'reserved bit 1');
  assert.equal(wr(s.vp, 0x40000021, BigInt(RAM_PAGES * 4096) | 1n), false, 'not RAM');
  assert.equal(wr(s.vp, 0x40000021, BigInt(gpa) | 1n), true);
  assert.equal(rd(s.vp, 0x40000021), BigInt(gpa) | 1n);
  const seq = s.dv.getUint32(hostOf(s, gpa), true);
  assert.notEqual(seq, 0);
  assert.equal(s.dv.getUint32(hostOf(s, gpa) + 4, true), 0, 'reserved word cleared');
  // Over a range of instruction counts, including exact multiples of 100 TSC ticks, where a scale rounded
  // down would read one less than the MSR, and counts near 2^53 / 10.
  const counts = [0, 1, 9, 10, 11, 99, 100, 101, 12345, 1_000_000_000, 2 ** 40 + 7, 2 ** 49 + 12345];
  for (let i = 0; i < 2000; i++) counts.push(Math.floor(Math.random() * 2 ** 45));
  for (const n of counts) {
    s.vp.cpu.icount = n;
    const page = guestReferenceTime(s, gpa, guestTsc(s.vp));
    assert.equal(page, rd(s.vp, 0x40000020), `instructions ${n}`);
  }
  // Re-enabling writes a new sequence number.
  assert.equal(wr(s.vp, 0x40000021, BigInt(gpa) | 1n), true);
  const seq2 = s.dv.getUint32(hostOf(s, gpa), true);
  assert.ok(seq2 !== seq && seq2 !== 0);
  // A VP whose TSC was moved (WRMSR IA32_TSC) gets an invalid page, so the guest falls back to the MSR.
  s.vp.cpu.s[S_TSC_OFFSET] = 12345;
  assert.equal(wr(s.vp, 0x40000021, BigInt(gpa) | 1n), true);
  assert.equal(guestReferenceTime(s, gpa, guestTsc(s.vp)), null);
  // Disabling keeps the page field and clears enable.
  assert.equal(wr(s.vp, 0x40000021, BigInt(gpa)), true);
  assert.equal(rd(s.vp, 0x40000021), BigInt(gpa));
});

test('guest hypercalls: the calls a child may make, and refusals', () => {
  const s = child();
  const d = s.hv.dispatcher;
  const call = (ctlLo: number, ctlHi: number, inLo: number, outLo: number): number => {
    d.call(s.p, ctlLo, ctlHi, inLo, 0, outLo, 0);
    return d.resultLo;
  };
  assert.equal(call(0x0008 | 0x10000, 0, 5, 0), 0, 'fast HvCallNotifyLongSpinWait');
  assert.equal(call(0x0008, 0, 0x1000, 0), 0, 'memory-form HvCallNotifyLongSpinWait');
  assert.equal(call(0x0008, 0, 0x1004, 0), 4, 'misaligned input: INVALID_ALIGNMENT');
  assert.equal(call(0x0008, 0, 0x1ffc, 0), 4, 'input crossing a page: INVALID_ALIGNMENT');
  assert.equal(call(0x0008, 0, RAM_PAGES * 4096, 0), 5, 'input outside RAM: INVALID_PARAMETER');
  assert.equal(call(0x0008 | 0x10000, 1, 5, 0), 3, 'rep count on a simple call');
  assert.equal(call(0x0008 | 0x10000, 1 << 16, 5, 0), 3, 'rep start on a simple call');
  assert.equal(call(0x005c, 0, 0x1000, 0), 6, 'HvCallPostMessage without PostMessages (not granted by default)');
  assert.equal(call(0x005d | 0x10000, 0, 1, 0), 6, 'HvCallSignalEvent without SignalEvents (not granted by default)');
  assert.equal(call(0x0002, 0, 0x1000, 0), 2, 'HvCallFlushVirtualAddressSpace: not offered');
  assert.equal(call(0x8001, 0, 0, 0x2000), 2, 'HvExtCallQueryCapabilities: not offered');
  assert.equal(call(0x0046, 0, 0, 0x2000), 6, 'HvCallGetPartitionId without AccessPartitionId');
  assert.equal(call(0x0040, 0, 0x1000, 0x2000), 6, 'root-only HvCallCreatePartition');
  // The root holds AccessPartitionId.
  const r = s.hv.rootInterface();
  const outGpa = r.rootFirstPage * 4096;
  r.hypercall(0x0046, 0, 0, 0, outGpa, 0);
  assert.equal(r.result[0], 0);
  assert.equal(new DataView(r.memory.buffer).getBigUint64(outGpa, true), 1n);
});

test('VMCALL in 32-bit mode uses EDX:EAX, EBX:ECX, EDI:ESI', () => {
  const s = child();
  const st = s.vp.cpu.s;
  s.vp.cpu.mode64 = false;
  st[0] = 0x0008; st[4] = 0; // EDX:EAX = NotifyLongSpinWait, memory form
  st[2] = 0x1004; st[6] = 0; // EBX:ECX = misaligned input
  st[12] = 0; st[14] = 0;
  s.vp.hypercall();
  assert.equal(st[0], 4, 'EAX = INVALID_ALIGNMENT (from ECX, not RDX)');
  assert.equal(st[4], 0, 'EDX = 0 reps completed');
  st[0] = 0x0008; st[4] = 0; st[2] = 0x1000;
  s.vp.hypercall();
  assert.equal(st[0], 0);
});
