// The local APIC's register semantics against the Intel SDM (vol. 3A, "Advanced Programmable Interrupt
// Controller"): reset values, read-only and reserved bits, priority classes (TPR/PPR), IRR -> ISR -> EOI,
// level-triggered EOI broadcast, illegal vectors in ESR, the x2APIC MSR access rules, IA32_APIC_BASE
// transitions, destination matching and the timer's three modes. A fake host stands in for the VP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  apicBaseWriteAllowed, apicTimerDivisor, LocalApic, matchesDestination, TSC_TICKS_PER_APIC_TICK, type ApicHost,
} from '../../src/hv/apic/index.js';

const XAPIC = 0xfee00900, X2APIC = 0xfee00d00;

class FakeHost implements ApicHost {
  t = 1000;
  offset = 0;
  base = XAPIC;
  cr8 = 0;
  kicks = 0;
  nmis = 0;
  retimes = 0;
  readonly eois: number[] = [];
  readonly ipis: { mode: number; vector: number; dest: number; logical: boolean; shorthand: number }[] = [];
  now(): number { return this.t; }
  tscOffset(): number { return this.offset; }
  apicBaseLo(): number { return this.base; }
  readCr8(): number { return this.cr8; }
  writeCr8(v: number): void { this.cr8 = v; }
  kick(): void { this.kicks++; }
  nmi(): void { this.nmis++; }
  timerChanged(): void { this.retimes++; }
  eoiBroadcast(vector: number): void { this.eois.push(vector); }
  sendIpi(_s: LocalApic, mode: number, vector: number, dest: number, logical: boolean, shorthand: number): void {
    this.ipis.push({ mode, vector, dest, logical, shorthand });
  }
}

function make(index = 0): { apic: LocalApic; host: FakeHost; rd: (off: number) => number; wr: (off: number, v: number) => void } {
  const host = new FakeHost();
  const apic = new LocalApic(index, host);
  return { apic, host, rd: (off) => apic.mmioRead(off, 4) >>> 0, wr: (off, v) => apic.mmioWrite(off, 4, v) };
}

function enable(wr: (off: number, v: number) => void): void {
  wr(0xf0, 0x1ff); // SVR: software enable, spurious vector 0xFF
}

test('xAPIC reset values (SDM: state after power-up or reset)', () => {
  const { rd } = make(3);
  assert.equal(rd(0x20), 3 << 24, 'ID = initial APIC ID in bits 31:24');
  assert.equal(rd(0x30), 0x00050014, 'version 0x14, max LVT entry 5 (timer, thermal, PMC, LINT0, LINT1, error)');
  for (const off of [0x80, 0xa0, 0xd0, 0x280, 0x300, 0x310, 0x380, 0x390, 0x3e0]) assert.equal(rd(off), 0, `offset 0x${off.toString(16)}`);
  assert.equal(rd(0xe0), 0xffffffff, 'DFR = all ones (flat model)');
  assert.equal(rd(0xf0), 0xff, 'SVR = 0xFF, software-disabled');
  for (let off = 0x320; off <= 0x370; off += 0x10) assert.equal(rd(off), 0x10000, `LVT 0x${off.toString(16)} masked`);
  for (let k = 0; k < 8; k++) {
    assert.equal(rd(0x100 + k * 16), 0); assert.equal(rd(0x180 + k * 16), 0); assert.equal(rd(0x200 + k * 16), 0);
  }
});

test('read-only registers ignore writes; writable registers keep only their fields', () => {
  const { rd, wr } = make();
  enable(wr);
  for (const off of [0x30, 0xa0, 0x100, 0x180, 0x200, 0x390]) { wr(off, 0xffffffff); }
  assert.equal(rd(0x30), 0x00050014);
  assert.equal(rd(0xa0), 0);
  assert.equal(rd(0x100), 0);
  assert.equal(rd(0x200), 0);
  assert.equal(rd(0x390), 0);
  wr(0x80, 0xffffffff); assert.equal(rd(0x80), 0xff, 'TPR: bits 7:0');
  wr(0xd0, 0xffffffff); assert.equal(rd(0xd0), 0xff000000, 'LDR: bits 31:24');
  wr(0xe0, 0); assert.equal(rd(0xe0), 0x0fffffff, 'DFR: model bits 31:28, the rest reads as ones');
  wr(0xf0, 0xffffffff); assert.equal(rd(0xf0), 0x1ff, 'SVR: vector and enable');
  wr(0x320, 0xffffffff); assert.equal(rd(0x320), 0x700ff, 'LVT timer: vector, mask, mode; no delivery status');
  wr(0x320, 0x10000);
  wr(0x350, 0xffffffff); assert.equal(rd(0x350), 0x1a7ff, 'LVT LINT0: remote IRR and delivery status read-only');
  wr(0x370, 0xffffffff); assert.equal(rd(0x370), 0x100ff, 'LVT error: vector and mask');
  wr(0x3e0, 0xffffffff); assert.equal(rd(0x3e0), 0xb, 'divide configuration: bits 0, 1, 3');
  wr(0x310, 0xffffffff); assert.equal(rd(0x310), 0xff000000, 'ICR high: destination bits 31:24');
  wr(0x20, 0x12345678); assert.equal(rd(0x20), 0x12000000, 'xAPIC ID: bits 31:24');
});

test('software-disabled APIC drops fixed interrupts and keeps every LVT masked', () => {
  const { apic, rd, wr } = make();
  apic.accept(0x40, false);
  assert.equal(rd(0x200 + 2 * 16), 0, 'nothing in IRR');
  wr(0x320, 0x40);
  assert.equal(rd(0x320), 0x10040, 'mask stays set');
  enable(wr);
  wr(0x320, 0x40);
  assert.equal(rd(0x320), 0x40);
  wr(0xf0, 0xff); // disable again: every LVT masked
  assert.equal(rd(0x320), 0x10040);
});

test('priority: highest IRR vector above PPR is taken; EOI retires the highest in-service vector', () => {
  const { apic, host, rd, wr } = make();
  enable(wr);
  apic.accept(0x35, false);
  apic.accept(0x52, false);
  apic.accept(0x41, false);
  assert.ok(host.kicks >= 1);
  assert.equal(rd(0x200 + 16), (1 << (0x35 - 32)) >>> 0, 'IRR word 1 holds 0x35');
  assert.equal(apic.acknowledge(), 0x52);
  assert.equal(rd(0xa0), 0x50, 'PPR = class of the in-service vector');
  assert.equal(apic.acknowledge(), -1, '0x41 (class 4) waits behind 0x52 (class 5)');
  apic.accept(0x5f, false);
  assert.equal(apic.acknowledge(), -1, 'same class as the in-service vector: not taken');
  apic.accept(0x61, false);
  assert.equal(apic.acknowledge(), 0x61, 'a higher class interrupts the handler');
  assert.equal(rd(0xa0), 0x60);
  wr(0xb0, 0); // EOI 0x61
  assert.equal(rd(0xa0), 0x50);
  wr(0xb0, 0); // EOI 0x52
  assert.equal(rd(0xa0), 0);
  assert.equal(apic.acknowledge(), 0x5f);
  assert.equal(apic.acknowledge(), -1, '0x41 and 0x35 are lower classes than 0x5F in service');
  wr(0xb0, 0);
  assert.equal(apic.acknowledge(), 0x41);
  wr(0xb0, 0);
  assert.equal(apic.acknowledge(), 0x35);
  wr(0xb0, 0);
  assert.equal(apic.acknowledge(), -1);
  assert.deepEqual(host.eois, [], 'edge-triggered vectors are not broadcast');
});

test('TPR masks by priority class and CR8 aliases TPR[7:4]', () => {
  const { apic, host, rd, wr } = make();
  enable(wr);
  wr(0x80, 0x57);
  assert.equal(host.cr8, 5, 'CR8 = TPR[7:4]');
  apic.accept(0x58, false);
  assert.equal(apic.highestDeliverable(), -1, 'class 5 is not above TPR class 5');
  assert.equal(rd(0xa0), 0x57, 'PPR = TPR when nothing is in service');
  host.cr8 = 4; // MOV CR8, 4
  assert.equal(rd(0x80), 0x40, 'a CR8 write sets TPR[7:4] and clears TPR[3:0]');
  assert.equal(apic.acknowledge(), 0x58);
  const kicks = host.kicks;
  wr(0x80, 0xf0);
  apic.accept(0x90, false);
  assert.equal(host.kicks, kicks, 'no kick while the TPR masks it');
  wr(0xb0, 0);
  wr(0x80, 0);
  assert.equal(host.kicks, kicks + 1, 'lowering TPR below a pending interrupt kicks the processor');
});

test('level-triggered vectors set TMR and are broadcast on EOI; edge clears TMR', () => {
  const { apic, host, rd, wr } = make();
  enable(wr);
  apic.accept(0x70, true);
  assert.equal(rd(0x180 + 3 * 16), 1 << (0x70 - 96), 'TMR bit set');
  assert.equal(apic.acknowledge(), 0x70);
  wr(0xb0, 0);
  assert.deepEqual(host.eois, [0x70]);
  apic.accept(0x70, false);
  assert.equal(rd(0x180 + 3 * 16), 0, 'edge acceptance clears the TMR bit');
  apic.acknowledge();
  wr(0xb0, 0);
  assert.deepEqual(host.eois, [0x70], 'no broadcast for edge');
});

test('illegal vectors and registers are recorded in ESR (latched by a write) and raise the error LVT', () => {
  const { apic, rd, wr } = make();
  enable(wr);
  wr(0x370, 0xfe); // error LVT: vector 0xFE, unmasked
  apic.accept(5, false);
  assert.equal(rd(0x200), 0, 'vector 5 not accepted');
  assert.equal(rd(0x280), 0, 'ESR shows nothing before the latching write');
  wr(0x280, 0);
  assert.equal(rd(0x280), 0x40, 'receive illegal vector');
  wr(0x300, 0x00040003); // fixed, vector 3, self
  wr(0x280, 0);
  assert.equal(rd(0x280), 0x20, 'send illegal vector');
  rd(0x2f0); // no CMCI LVT on this APIC
  wr(0x280, 0);
  assert.equal(rd(0x280), 0x80, 'illegal register address');
  wr(0x280, 0);
  assert.equal(rd(0x280), 0, 'the next write clears');
  assert.equal(apic.acknowledge(), 0xfe, 'the error LVT vector was raised');
});

test('ICR: self IPIs land in IRR at once; other destinations go to the partition; delivery status reads idle', () => {
  const { apic, host, rd, wr } = make();
  enable(wr);
  wr(0x300, 0x00040061); // shorthand self, fixed, vector 0x61
  assert.equal(apic.highestDeliverable(), 0x61);
  assert.equal(rd(0x300) & 0x1000, 0, 'delivery status idle');
  wr(0x310, 0x02000000);
  wr(0x300, 0x00004862); // fixed, logical, assert, vector 0x62 to MDA 2
  assert.deepEqual(host.ipis, [{ mode: 0, vector: 0x62, dest: 2, logical: true, shorthand: 0 }]);
  wr(0x300, 0x000c0400); // NMI to all excluding self
  assert.equal(host.ipis[1].mode, 4);
  assert.equal(host.ipis[1].shorthand, 3);
});

test('x2APIC MSRs: #GP outside x2APIC mode, read-only/write-only rules, reserved bits, 64-bit ICR, SELF IPI', () => {
  const { apic, host } = make(0x23);
  const out = new Int32Array(2);
  assert.equal(apic.rdmsr(0x802, out), false, 'xAPIC mode: x2APIC MSRs #GP');
  host.base = X2APIC;
  assert.equal(apic.rdmsr(0x802, out), true);
  assert.equal(out[0], 0x23, 'x2APIC ID = the full initial APIC ID');
  apic.rdmsr(0x80d, out);
  assert.equal(out[0] >>> 0, (0x2 << 16) | (1 << 3), 'LDR = cluster ID[19:4] << 16 | 1 << ID[3:0]');
  for (const msr of [0x809, 0x80c, 0x80e, 0x82f, 0x831, 0x83f, 0x80b, 0x801, 0x8ff]) assert.equal(apic.rdmsr(msr, out), false, `RDMSR 0x${msr.toString(16)} #GP`);
  for (const msr of [0x802, 0x803, 0x80a, 0x80d, 0x810, 0x818, 0x820, 0x839]) assert.equal(apic.wrmsr(msr, 0, 0), false, `WRMSR read-only 0x${msr.toString(16)} #GP`);
  assert.equal(apic.wrmsr(0x80f, 0x1ff, 0), true);
  assert.equal(apic.wrmsr(0x80f, 0x1ff, 1), false, 'bits 63:32 reserved');
  assert.equal(apic.wrmsr(0x80b, 1, 0), false, 'EOI of a non-zero value #GP');
  assert.equal(apic.wrmsr(0x828, 1, 0), false, 'ESR accepts only 0');
  assert.equal(apic.wrmsr(0x83f, 0x100, 0), false, 'SELF IPI bits 31:8 reserved');
  assert.equal(apic.wrmsr(0x83f, 0x45, 0), true);
  assert.equal(apic.acknowledge(), 0x45, 'SELF IPI raised vector 0x45');
  assert.equal(apic.wrmsr(0x830, 0x1000, 0), false, 'ICR bit 12 reserved in x2APIC mode');
  assert.equal(apic.wrmsr(0x830, 0x4050, 0x1234), true);
  assert.deepEqual(host.ipis[0], { mode: 0, vector: 0x50, dest: 0x1234, logical: false, shorthand: 0 }, '32-bit destination');
  apic.rdmsr(0x830, out);
  assert.deepEqual([out[0], out[1]], [0x4050, 0x1234], 'ICR reads back as one 64-bit register');
  assert.equal(apic.wrmsr(0x808, 0x100, 0), false, 'TPR bits 31:8 reserved');
  assert.equal(apic.wrmsr(0x808, 0x20, 0), true);
  assert.equal(host.cr8, 2);
  assert.equal(apic.claimsMmio(0xfee00000), false, 'no MMIO page in x2APIC mode');
});

test('IA32_APIC_BASE: reserved bits and the SDM state transitions', () => {
  const ok = (from: number, to: number, hi = 0, x2 = true): boolean => apicBaseWriteAllowed(from, to, hi, 39, x2);
  assert.ok(ok(XAPIC, X2APIC), 'xAPIC -> x2APIC');
  assert.ok(!ok(X2APIC, XAPIC), 'x2APIC -> xAPIC #GP');
  assert.ok(ok(X2APIC, 0xfee00100), 'x2APIC -> disabled');
  assert.ok(!ok(0xfee00100, X2APIC), 'disabled -> x2APIC #GP');
  assert.ok(ok(0xfee00100, XAPIC), 'disabled -> xAPIC');
  assert.ok(!ok(XAPIC, 0xfee00500), 'EXTD without EN #GP');
  assert.ok(!ok(XAPIC, X2APIC, 0, false), 'x2APIC needs CPUID support');
  assert.ok(!ok(XAPIC, XAPIC | 1), 'bit 0 reserved');
  assert.ok(!ok(XAPIC, XAPIC | 0x200), 'bit 9 reserved');
  assert.ok(ok(XAPIC, XAPIC, 0x7f), 'base below MAXPHYADDR (39)');
  assert.ok(!ok(XAPIC, XAPIC, 0x80), 'base at MAXPHYADDR #GP');
  // Disabling resets the APIC.
  const { apic, host, rd, wr } = make();
  enable(wr);
  wr(0x80, 0x30);
  host.base = 0xfee00100;
  apic.baseChanged(XAPIC, host.base);
  host.base = XAPIC;
  assert.equal(rd(0xf0), 0xff, 'SVR back to reset');
  assert.equal(rd(0x80), 0, 'TPR back to reset');
});

test('destination matching: physical, broadcast, flat and cluster logical, x2APIC cluster', () => {
  const x = (id: number, ldr: number, model: number): Parameters<typeof matchesDestination>[0] => ({ x2apic: false, apicId: id, logicalId: ldr, destinationModel: model });
  assert.ok(matchesDestination(x(3, 0, 0xf), 3, false));
  assert.ok(!matchesDestination(x(3, 0, 0xf), 4, false));
  assert.ok(matchesDestination(x(3, 0, 0xf), 0xff, false), 'physical broadcast');
  assert.ok(matchesDestination(x(0, 0x04000000, 0xf), 0x06, true), 'flat: LDR bit in the MDA');
  assert.ok(!matchesDestination(x(0, 0x04000000, 0xf), 0x03, true));
  assert.ok(matchesDestination(x(0, 0x21000000, 0x0), 0x23, true), 'cluster 2, member bit 0');
  assert.ok(!matchesDestination(x(0, 0x21000000, 0x0), 0x31, true), 'other cluster');
  const x2 = { x2apic: true, apicId: 0x13, logicalId: (1 << 16) | (1 << 3), destinationModel: 0xf };
  assert.ok(matchesDestination(x2, 0x13, false));
  assert.ok(matchesDestination(x2, -1, false), 'x2APIC physical broadcast 0xFFFFFFFF');
  assert.ok(matchesDestination(x2, (1 << 16) | 0x8, true));
  assert.ok(!matchesDestination(x2, (2 << 16) | 0x8, true));
});

test('timer divide configuration (SDM: 000 -> 2 ... 110 -> 128, 111 -> 1)', () => {
  assert.deepEqual([0, 1, 2, 3, 8, 9, 0xa, 0xb].map(apicTimerDivisor), [2, 4, 8, 16, 32, 64, 128, 1]);
});

test('one-shot timer: counts down at the APIC clock / divisor, fires once, then reads 0', () => {
  const { apic, host, rd, wr } = make();
  enable(wr);
  wr(0x3e0, 0x3); // divide by 16
  wr(0x320, 0x41);
  const t0 = host.t;
  wr(0x380, 1000);
  const per = 16 * TSC_TICKS_PER_APIC_TICK;
  assert.equal(apic.timerDeadline(), t0 + 1000 * per);
  host.t = t0 + 250 * per;
  assert.equal(rd(0x390), 750);
  host.t = t0 + 1000 * per - 1;
  apic.pollTimer(host.t);
  assert.equal(apic.highestDeliverable(), -1, 'not yet');
  host.t = t0 + 1000 * per;
  apic.pollTimer(host.t);
  assert.equal(apic.acknowledge(), 0x41);
  assert.equal(rd(0x390), 0);
  assert.equal(apic.timerDeadline(), Infinity, 'one-shot: no further expiry');
  wr(0x380, 0);
  assert.equal(rd(0x380), 0);
});

test('periodic timer: reloads, skips periods it missed, current count wraps', () => {
  const { apic, host, rd, wr } = make();
  enable(wr);
  wr(0x3e0, 0xb); // divide by 1
  wr(0x320, 0x20042);
  const t0 = host.t, period = 500 * TSC_TICKS_PER_APIC_TICK;
  wr(0x380, 500);
  host.t = t0 + period;
  apic.pollTimer(host.t);
  assert.equal(apic.acknowledge(), 0x42);
  wr(0xb0, 0);
  assert.equal(apic.timerDeadline(), t0 + 2 * period);
  host.t = t0 + 3 * period + 100;
  apic.pollTimer(host.t);
  assert.equal(apic.timerDeadline(), t0 + 4 * period, 'missed periods are skipped');
  assert.equal(rd(0x390), 500 - 100 / TSC_TICKS_PER_APIC_TICK);
  wr(0x320, 0x30042); // masked: no deadline to stop for
  assert.equal(apic.timerDeadline(), Infinity);
});

test('TSC-deadline mode: IA32_TSC_DEADLINE arms at guest TSC, fires once and clears; ignored in other modes', () => {
  const { apic, host, wr } = make();
  const out = new Int32Array(2);
  enable(wr);
  apic.writeDeadline(5000, 0);
  apic.readDeadline(out);
  assert.deepEqual([out[0], out[1]], [0, 0], 'not in TSC-deadline mode: the write is ignored');
  wr(0x320, 0x40043);
  wr(0x380, 1234);
  assert.equal(apic.timer.initial, 0, 'initial-count writes are ignored in TSC-deadline mode');
  host.offset = 100_000; // guest TSC = platform time + offset
  apic.writeDeadline(host.t + host.offset + 5000, 0);
  assert.equal(apic.timerDeadline(), host.t + 5000);
  host.t += 5000;
  apic.pollTimer(host.t);
  assert.equal(apic.acknowledge(), 0x43);
  apic.readDeadline(out);
  assert.deepEqual([out[0], out[1]], [0, 0], 'the MSR reads 0 after expiry');
  apic.writeDeadline(1, 0); // already in the past: expires at once
  assert.equal(apic.timerDeadline(), host.t);
  wr(0x320, 0x00043); // leaving TSC-deadline mode disarms
  assert.equal(apic.timerDeadline(), Infinity);
});
