// The SynIC from the hypervisor's side: the SCONTROL/SVERSION/SIEFP/SIMP/EOM/SINTn MSRs as a child VP's platform
// answers them (TLFS "Synthetic Interrupt Controller"; reset values and reserved bits written out from the TLFS
// and Linux include/asm-generic/hyperv-tlfs.h), the message-slot protocol (a full slot sets MessagePending,
// EOM redelivers), event flags, delivery of the SINT vector through the VP's local APIC, the root's API, and
// the guest's HvCallPostMessage / HvCallSignalEvent with their refusals (status codes from the TLFS:
// INVALID_PARAMETER 5, ACCESS_DENIED 6, INVALID_CONNECTION_ID 0x12, INSUFFICIENT_BUFFERS 0x13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hypervisor, Privilege, RIGHTS_RWX, type Partition, type VirtualProcessor } from '../../src/hv/index.js';
import { GPA_READ } from '../../src/vp/index.js';

const MiB = 1 << 20;
const RAM_PAGES = 512;
const SIMP_GPA = 0x10000, SIEFP_GPA = 0x11000, IN_GPA = 0x12000;

interface Setup { hv: Hypervisor; p: Partition; vp: VirtualProcessor; u8: Uint8Array; dv: DataView }

function child(privileged = true, vps = 1): Setup {
  const hv = new Hypervisor({ memoryBytes: 16 * MiB, childGpaPages: 8192 });
  const p = hv.newChildPartition(hv.root, 0)!;
  const first = hv.pool.pageCount + 64;
  for (let g = 0; g < RAM_PAGES; g++) p.map.map(g, first + g, RIGHTS_RWX);
  if (privileged) {
    p.privileges.lo |= 1 << Privilege.ACCESS_SYNIC_MSRS;
    p.privileges.hi |= (1 << (Privilege.POST_MESSAGES - 32)) | (1 << (Privilege.SIGNAL_EVENTS - 32));
  }
  for (let i = 0; i < vps; i++) assert.ok(hv.newVp(p, i));
  for (const vp of p.vps) vp!.apic.mmioWrite(0xf0, 4, 0x1ff); // software-enable the local APIC
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
function host(s: Setup, gpa: number): number {
  return s.p.map.spaPage[Math.floor(gpa / 4096)] * 4096 + (gpa % 4096);
}
function irr(vp: VirtualProcessor, vector: number): boolean {
  return ((vp.apic.irr[vector >>> 5] >>> (vector & 31)) & 1) === 1;
}
/** Linux's setup order (hv_synic_enable_regs): SIMP, SIEFP, SINT2 = 0xF3 unmasked, SCONTROL. */
function enable(s: Setup, vp = s.vp, sint = 2, vector = 0xf3): void {
  assert.ok(wr(vp, 0x40000083, BigInt(SIMP_GPA) | 1n));
  assert.ok(wr(vp, 0x40000082, BigInt(SIEFP_GPA) | 1n));
  assert.ok(wr(vp, 0x40000090 + sint, BigInt(vector)));
  assert.ok(wr(vp, 0x40000080, 1n));
}
function slot(s: Setup, n: number): { type: number; size: number; flags: number; payload: Uint8Array } {
  const at = host(s, SIMP_GPA + n * 256);
  return { type: s.dv.getUint32(at, true), size: s.u8[at + 4], flags: s.u8[at + 5], payload: s.u8.slice(at + 16, at + 16 + s.u8[at + 4]) };
}

test('SynIC MSRs: reset values, read-back, read-only SVERSION, reserved bits and vectors below 16 raise #GP', () => {
  const s = child();
  const vp = s.vp;
  assert.equal(rd(vp, 0x40000080), 0n, 'SCONTROL resets disabled');
  assert.equal(rd(vp, 0x40000081), 1n, 'SVERSION is 1');
  assert.equal(rd(vp, 0x40000082), 0n, 'SIEFP resets disabled');
  assert.equal(rd(vp, 0x40000083), 0n, 'SIMP resets disabled');
  assert.equal(rd(vp, 0x40000084), 0n, 'EOM reads 0');
  for (let n = 0; n < 16; n++) assert.equal(rd(vp, 0x40000090 + n), 0x10000n, `SINT${n} resets masked`);
  for (let m = 0x40000085; m <= 0x4000008f; m++) assert.equal(rd(vp, m), 'gp', `0x${m.toString(16)} is no SynIC register`);
  assert.equal(wr(vp, 0x40000081, 1n), false, 'SVERSION is read-only');
  assert.equal(wr(vp, 0x40000080, 2n), false, 'SCONTROL bit 1 reserved');
  assert.equal(wr(vp, 0x40000080, 1n << 32n), false, 'SCONTROL high half reserved');
  assert.equal(wr(vp, 0x40000083, BigInt(SIMP_GPA) | 2n), false, 'SIMP bits 11:1 reserved');
  assert.equal(wr(vp, 0x40000083, (1n << 52n) | 1n), false, 'SIMP beyond MAXPHYADDR');
  assert.equal(wr(vp, 0x40000083, BigInt(RAM_PAGES * 4096) | 1n), false, "SIMP outside the partition's RAM");
  s.p.map.map(20, s.p.map.spaPage[20], GPA_READ);
  assert.equal(wr(vp, 0x40000082, 0x14000n | 1n), false, 'SIEFP on a page the guest may not write');
  assert.equal(wr(vp, 0x40000083, 0x14000n), true, 'a disabled page is not checked against RAM');
  assert.equal(rd(vp, 0x40000083), 0x14000n);
  assert.equal(wr(vp, 0x40000092, 0xfn), false, 'unmasked vector 15');
  assert.equal(wr(vp, 0x40000092, 0x10000n), true, 'masked vector 0 (the reset value) is accepted');
  assert.equal(wr(vp, 0x40000092, 0xf3n | (1n << 8n)), false, 'SINT bits 15:8 reserved');
  assert.equal(wr(vp, 0x40000092, 0xf3n | (1n << 19n)), false, 'SINT bit 19 reserved');
  assert.equal(wr(vp, 0x40000092, 0xf3n | (1n << 40n)), false, 'SINT high half reserved');
  assert.equal(wr(vp, 0x40000092, 0xf3n | (7n << 16n)), true, 'masked, auto-EOI, polling');
  assert.equal(rd(vp, 0x40000092), 0x700f3n);
  enable(s);
  assert.equal(rd(vp, 0x40000083), BigInt(SIMP_GPA) | 1n);
  assert.equal(rd(vp, 0x40000082), BigInt(SIEFP_GPA) | 1n);
  assert.equal(rd(vp, 0x40000080), 1n);
  assert.equal(wr(vp, 0x40000084, 0n), true, 'EOM takes a write');
});

test('without AccessSynicRegs the SynIC MSRs are not the hypervisor\'s (#GP with no root intercept)', () => {
  const s = child(false);
  assert.equal(rd(s.vp, 0x40000080), 'gp');
  assert.equal(wr(s.vp, 0x40000083, BigInt(SIMP_GPA) | 1n), false);
  assert.equal(s.p.cpuid.get('40000003')!.eax & 4, 0, 'CPUID 0x40000003 EAX bit 2 clear for a default child');
});

test('enabling the SIM page clears it (a stale slot may not block delivery)', () => {
  const s = child();
  s.u8.fill(0xaa, host(s, SIMP_GPA), host(s, SIMP_GPA) + 4096);
  enable(s);
  assert.ok(s.u8.subarray(host(s, SIMP_GPA), host(s, SIMP_GPA) + 4096).every((b) => b === 0));
});

test('message slots: delivered when empty with an interrupt; a full slot gets MessagePending; EOM redelivers in order', () => {
  const s = child();
  const r = s.hv.rootInterface();
  enable(s);
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 1, Uint8Array.of(1, 2, 3)), 0);
  assert.deepEqual(slot(s, 2), { type: 1, size: 3, flags: 0, payload: Uint8Array.of(1, 2, 3) });
  assert.ok(irr(s.vp, 0xf3), 'SINT2 vector pending in the local APIC');
  assert.equal(s.vp.apic.highestDeliverable(), 0xf3);
  assert.equal(s.vp.acknowledgeInterrupt(), 0xf3);
  s.vp.apic.eoi();
  // Two more: the slot is full, so both queue and the slot says "pending".
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 7, Uint8Array.of(4)), 0);
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 8, new Uint8Array(240).fill(9)), 0);
  assert.equal(s.vp.synic.queued(2), 2);
  assert.equal(slot(s, 2).flags, 1, 'MessagePending set');
  assert.equal(slot(s, 2).type, 1, 'the first message is untouched');
  assert.ok(!irr(s.vp, 0xf3), 'no interrupt for a queued message');
  // EOM with the slot still full changes nothing.
  assert.ok(wr(s.vp, 0x40000084, 0n));
  assert.equal(s.vp.synic.queued(2), 2);
  // The guest frees the slot (cmpxchg type -> 0) and, seeing MessagePending, writes EOM.
  s.dv.setUint32(host(s, SIMP_GPA + 512), 0, true);
  assert.ok(wr(s.vp, 0x40000084, 0n));
  assert.deepEqual(slot(s, 2), { type: 7, size: 1, flags: 1, payload: Uint8Array.of(4) }, 'next message, still one behind it');
  assert.ok(irr(s.vp, 0xf3), 'redelivery interrupts again');
  s.dv.setUint32(host(s, SIMP_GPA + 512), 0, true);
  assert.ok(wr(s.vp, 0x40000084, 0n));
  const last = slot(s, 2);
  assert.equal(last.type, 8);
  assert.equal(last.flags, 0, 'nothing left behind it');
  assert.deepEqual(last.payload, new Uint8Array(240).fill(9));
  assert.equal(s.vp.synic.queued(2), 0);
  // Other SINTs' slots were never written.
  assert.equal(slot(s, 1).type, 0);
  assert.equal(slot(s, 3).type, 0);
});

test('a masked SINT or a disabled SynIC queues messages; unmasking / enabling delivers them', () => {
  const s = child();
  const r = s.hv.rootInterface();
  assert.ok(wr(s.vp, 0x40000083, BigInt(SIMP_GPA) | 1n));
  assert.ok(wr(s.vp, 0x40000092, 0x100f3n)); // masked
  assert.ok(wr(s.vp, 0x40000080, 1n));
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 1, Uint8Array.of(5)), 0);
  assert.equal(slot(s, 2).type, 0, 'masked: nothing delivered');
  assert.ok(wr(s.vp, 0x40000092, 0xf3n));
  assert.equal(slot(s, 2).type, 1, 'unmasking delivers');
  assert.ok(irr(s.vp, 0xf3));
  const t = child();
  assert.ok(wr(t.vp, 0x40000083, BigInt(SIMP_GPA) | 1n));
  assert.ok(wr(t.vp, 0x40000092, 0xf3n));
  assert.equal(t.hv.rootInterface().postSynicMessage(t.p.id, 0, 2, 1, Uint8Array.of(5)), 0);
  assert.equal(slot(t, 2).type, 0, 'SCONTROL disabled: nothing delivered');
  assert.ok(wr(t.vp, 0x40000080, 1n));
  assert.equal(slot(t, 2).type, 1, 'enabling the SynIC delivers');
});

test('a polling SINT receives its message without an interrupt; auto-EOI leaves no vector in service', () => {
  const s = child();
  const r = s.hv.rootInterface();
  enable(s, s.vp, 3, 0x50);
  assert.ok(wr(s.vp, 0x40000093, 0x50n | (1n << 18n)));
  assert.equal(r.postSynicMessage(s.p.id, 0, 3, 1, new Uint8Array(0)), 0);
  assert.equal(slot(s, 3).type, 1);
  assert.ok(!irr(s.vp, 0x50));
  assert.ok(wr(s.vp, 0x40000094, 0x60n | (1n << 17n)));
  assert.equal(r.postSynicMessage(s.p.id, 0, 4, 1, new Uint8Array(0)), 0);
  assert.equal(s.vp.acknowledgeInterrupt(), 0x60);
  assert.equal(s.vp.apic.isr[0x60 >>> 5] & (1 << (0x60 & 31)), 0, 'auto-EOI: not left in service');
  assert.ok(wr(s.vp, 0x40000092, 0xf3n));
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 1, new Uint8Array(0)), 0);
  assert.equal(s.vp.acknowledgeInterrupt(), 0xf3);
  assert.notEqual(s.vp.apic.isr[0xf3 >>> 5] & (1 << (0xf3 & 31)), 0, 'an ordinary SINT stays in service until EOI');
});

test('root API validation: partition, VP index, SINT, type, payload size, queue depth', () => {
  const s = child();
  const r = s.hv.rootInterface();
  enable(s);
  assert.equal(r.postSynicMessage(999, 0, 2, 1, new Uint8Array(1)), 0x0d, 'INVALID_PARTITION_ID');
  assert.equal(r.postSynicMessage(1, 0, 2, 1, new Uint8Array(1)), 0x0d, 'the root is not a child');
  assert.equal(r.postSynicMessage(s.p.id, 1, 2, 1, new Uint8Array(1)), 0x0e, 'INVALID_VP_INDEX');
  assert.equal(r.postSynicMessage(s.p.id, -1, 2, 1, new Uint8Array(1)), 0x0e);
  assert.equal(r.postSynicMessage(s.p.id, 0, 16, 1, new Uint8Array(1)), 5, 'SINT 16');
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 0, new Uint8Array(1)), 5, 'type 0 is an empty slot');
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 1, new Uint8Array(241)), 5, 'payload above 240 bytes');
  assert.equal(r.signalSynicEvent(s.p.id, 0, 2, 2048), 5, 'flag 2048');
  assert.equal(r.signalSynicEvent(s.p.id, 0, -1, 0), 5, 'SINT -1');
  assert.equal(r.signalSynicEvent(s.p.id, 3, 2, 0), 0x0e);
  for (let i = 0; i < 65; i++) assert.equal(r.postSynicMessage(s.p.id, 0, 2, 1, new Uint8Array(1)), 0, `post ${i}`);
  assert.equal(s.vp.synic.queued(2), 64, 'one in the slot, 64 queued');
  assert.equal(r.postSynicMessage(s.p.id, 0, 2, 1, new Uint8Array(1)), 0x13, 'INSUFFICIENT_BUFFERS beyond the queue');
});

test('event flags: a signal sets the bit and interrupts once until the guest clears it; masked SINTs stay quiet', () => {
  const s = child();
  const r = s.hv.rootInterface();
  enable(s);
  assert.equal(r.signalSynicEvent(s.p.id, 0, 2, 13), 0);
  const at = host(s, SIEFP_GPA + 512);
  assert.equal(s.u8[at + 1], 1 << 5, 'flag 13 = byte 1, bit 5 of slot 2');
  assert.ok(irr(s.vp, 0xf3));
  assert.equal(s.vp.acknowledgeInterrupt(), 0xf3);
  s.vp.apic.eoi();
  assert.equal(r.signalSynicEvent(s.p.id, 0, 2, 13), 0);
  assert.ok(!irr(s.vp, 0xf3), 'already set: no second interrupt');
  assert.equal(r.signalSynicEvent(s.p.id, 0, 2, 2047), 0);
  assert.equal(s.u8[at + 255], 0x80);
  assert.ok(irr(s.vp, 0xf3), 'a new flag interrupts');
  assert.equal(s.vp.synic.stats.eventsSignalled, 3);
  // A masked SINT gets the flag but no interrupt.
  assert.ok(wr(s.vp, 0x40000095, 0x10061n));
  assert.equal(r.signalSynicEvent(s.p.id, 0, 5, 0), 0);
  assert.equal(s.u8[host(s, SIEFP_GPA + 5 * 256)], 1);
  assert.ok(!irr(s.vp, 0x61));
  // With the SIEF page disabled the signal is lost, and counted.
  assert.ok(wr(s.vp, 0x40000082, BigInt(SIEFP_GPA)));
  assert.equal(r.signalSynicEvent(s.p.id, 0, 2, 1), 0);
  assert.equal(s.vp.synic.stats.eventsDropped, 1);
});

test('each VP has its own SynIC', () => {
  const s = child(true, 2);
  const vp1 = s.p.vps[1]!;
  enable(s);
  assert.equal(rd(vp1, 0x40000080), 0n);
  assert.equal(rd(vp1, 0x40000092), 0x10000n);
  assert.equal(s.hv.rootInterface().postSynicMessage(s.p.id, 1, 2, 1, new Uint8Array(1)), 0);
  assert.equal(vp1.synic.queued(2), 1, 'VP 1 has not enabled its SynIC');
  assert.equal(slot(s, 2).type, 0, "VP 0's page untouched");
});

test('HvCallPostMessage / HvCallSignalEvent from a guest: validated, then handed to the root by connection id', () => {
  const s = child();
  const d = s.hv.dispatcher;
  const call = (ctlLo: number, inLo: number, inHi = 0): number => {
    d.call(s.p, ctlLo, 0, inLo, inHi, 0, 0);
    return d.resultLo;
  };
  const conns = s.hv.rootInterface().synicConnections(s.p.id)!;
  assert.equal(s.hv.rootInterface().synicConnections(1), null, 'only children');
  const got: { type: number; payload: number[] }[] = [];
  const flags: number[] = [];
  assert.ok(conns.setMessageHandler(4, (type, payload) => { got.push({ type, payload: [...payload] }); return 0; }));
  assert.ok(conns.setMessageHandler(5, () => 0x13));
  assert.ok(conns.setEventHandler(0x2001, 4, (f) => flags.push(f)));
  assert.equal(conns.setMessageHandler(0, () => 0), false, 'connection id 0');
  assert.equal(conns.setMessageHandler(1 << 24, () => 0), false, 'connection ids are 24 bits');
  assert.equal(conns.setEventHandler(6, 0, () => undefined), false, 'no flags');
  const inAt = host(s, IN_GPA);
  const input = (id: number, reserved: number, type: number, size: number): void => {
    s.dv.setUint32(inAt, id, true); s.dv.setUint32(inAt + 4, reserved, true);
    s.dv.setUint32(inAt + 8, type, true); s.dv.setUint32(inAt + 12, size, true);
    for (let i = 0; i < 240; i++) s.u8[inAt + 16 + i] = i;
  };
  input(4, 0, 1, 5);
  assert.equal(call(0x5c, IN_GPA), 0);
  assert.deepEqual(got, [{ type: 1, payload: [0, 1, 2, 3, 4] }]);
  input(4, 0, 1, 240);
  assert.equal(call(0x5c, IN_GPA), 0, '240 bytes is the limit');
  assert.equal(got[1].payload.length, 240);
  input(4, 0, 1, 241);
  assert.equal(call(0x5c, IN_GPA), 5, 'payload above 240 bytes: INVALID_PARAMETER');
  input(9, 0, 1, 4);
  assert.equal(call(0x5c, IN_GPA), 0x12, 'unknown connection: INVALID_CONNECTION_ID');
  input(4 | (1 << 24), 0, 1, 4);
  assert.equal(call(0x5c, IN_GPA), 5, 'reserved connection-id bits');
  input(4, 1, 1, 4);
  assert.equal(call(0x5c, IN_GPA), 5, 'reserved field');
  input(4, 0, 0, 4);
  assert.equal(call(0x5c, IN_GPA), 5, 'message type 0');
  input(4, 0, 0x80000010, 4);
  assert.equal(call(0x5c, IN_GPA), 5, "the hypervisor's own message types");
  input(5, 0, 1, 4);
  assert.equal(call(0x5c, IN_GPA), 0x13, "the root's status reaches the guest");
  assert.equal(call(0x5c, IN_GPA + 4), 4, 'misaligned input: INVALID_ALIGNMENT');
  assert.equal(call(0x5c, IN_GPA + 0xf08), 4, 'input crossing a page: INVALID_ALIGNMENT');
  assert.equal(call(0x5c, RAM_PAGES * 4096), 5, 'input outside RAM: INVALID_PARAMETER');
  assert.equal(call(0x5c | 0x10000, 4, 0), 3, 'PostMessage has no fast form (256 bytes of input)');
  assert.equal(got.length, 2, 'no refused message reached the root');
  // HvCallSignalEvent, fast as Linux issues it: RDX = connection id | flag << 32.
  assert.equal(call(0x5d | 0x10000, 0x2001, 3), 0);
  assert.equal(call(0x5d | 0x10000, 0x2001, 0), 0);
  assert.deepEqual(flags, [3, 0]);
  assert.equal(call(0x5d | 0x10000, 0x2001, 4), 5, 'flag beyond the connection: INVALID_PARAMETER');
  assert.equal(call(0x5d | 0x10000, 0x2002, 0), 0x12, 'unknown connection: INVALID_CONNECTION_ID');
  assert.equal(call(0x5d | 0x10000, 0x2001, 1 << 16), 5, 'reserved bits 63:48');
  s.dv.setUint32(inAt, 0x2001, true); s.dv.setUint32(inAt + 4, 2, true);
  assert.equal(call(0x5d, IN_GPA), 0, 'memory form');
  assert.deepEqual(flags, [3, 0, 2]);
  assert.ok(conns.setEventHandler(0x2001, 1, null));
  assert.equal(call(0x5d | 0x10000, 0x2001, 0), 0x12, 'removed');
  // Without the privileges: ACCESS_DENIED before any input is looked at.
  s.p.privileges.hi = 0;
  assert.equal(call(0x5d | 0x10000, 0x2001, 0), 6);
  input(4, 0, 1, 4);
  assert.equal(call(0x5c, IN_GPA), 6);
});
