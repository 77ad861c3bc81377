// The synthetic timers from the hypervisor's side, through a child VP's MSR interface (TLFS "Synthetic Timers";
// what Linux 6.1's hyperv_timer.c writes): privileges and CPUID, reserved bits, one-shot and periodic expiry
// at exact reference times, auto-enable, COUNT = 0, direct mode into the local APIC, message mode into the SINT
// slot (payload layout, busy slot, masked SINT, disabled SynIC), lazy and non-lazy periodic timers after the
// root steps the clock forward (also through HvCallSetVpRegisters TimeRefCount), how a halted VP's dispatch
// fast-forwards to a timer, and hostile values.
// Virtual time is set directly: reference time R (100 ns) is instruction time 10 R.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DispatchResult, Hypervisor, Privilege, RIGHTS_RWX, type Partition, type VirtualProcessor } from '../../src/hv/index.js';
import { MAX_CATCH_UP } from '../../src/hv/synic/index.js';

const MiB = 1 << 20;
const RAM_PAGES = 512;
const SIMP_GPA = 0x10000, SIEFP_GPA = 0x11000;
const CONFIG0 = 0x400000b0, COUNT0 = 0x400000b1;
const ENABLE = 1n, PERIODIC = 2n, LAZY = 4n, AUTO = 8n, DIRECT = 1n << 12n;
const vec = (v: number): bigint => BigInt(v) << 4n;
const sintx = (s: number): bigint => BigInt(s) << 16n;
const TIMER_EXPIRED = 0x80000010;

interface Setup { hv: Hypervisor; p: Partition; vp: VirtualProcessor; dv: DataView }

function child(synic = true, timers = true): Setup {
  const hv = new Hypervisor({ memoryBytes: 16 * MiB, childGpaPages: 8192 });
  const p = hv.newChildPartition(hv.root, 0)!;
  const first = hv.pool.pageCount + 64;
  for (let g = 0; g < RAM_PAGES; g++) p.map.map(g, first + g, RIGHTS_RWX);
  if (synic) p.privileges.lo |= 1 << Privilege.ACCESS_SYNIC_MSRS;
  if (timers) p.privileges.lo |= 1 << Privilege.ACCESS_SYNTHETIC_TIMER_MSRS;
  p.privilegesChanged();
  assert.ok(hv.newVp(p, 0));
  const vp = p.vps[0]!;
  vp.apic.mmioWrite(0xf0, 4, 0x1ff); // software-enable the local APIC
  return { hv, p, vp, dv: hv.memory.view };
}

const out = new Int32Array(2);
function rd(vp: VirtualProcessor, msr: number): bigint | 'gp' {
  if (!vp.rdmsr(msr, out)) return 'gp';
  return (BigInt(out[1] >>> 0) << 32n) | BigInt(out[0] >>> 0);
}
/** A register the VP must have (no #GP). */
function rv(vp: VirtualProcessor, msr: number): bigint {
  const v = rd(vp, msr);
  assert.notEqual(v, 'gp', `0x${msr.toString(16)}`);
  return v as bigint;
}
function wr(vp: VirtualProcessor, msr: number, v: bigint): boolean {
  return vp.wrmsr(msr, Number(v & 0xffffffffn) | 0, Number((v >> 32n) & 0xffffffffn) | 0);
}
function irr(vp: VirtualProcessor, vector: number): boolean {
  return ((vp.apic.irr[vector >>> 5] >>> (vector & 31)) & 1) === 1;
}
/** Move the VP's clock to reference time `ref` and let the timers see it (as the dispatch loop does). */
function at(vp: VirtualProcessor, ref: number): void {
  vp.skippedInstructions = ref * 10 - vp.cpu.icount;
  vp.synic.timers.poll(vp.now());
}
/** Linux's SynIC setup: SIMP, SIEFP, SINT2 = 0xF3 unmasked, SCONTROL. */
function enableSynic(s: Setup): void {
  assert.ok(wr(s.vp, 0x40000083, BigInt(SIMP_GPA) | 1n));
  assert.ok(wr(s.vp, 0x40000082, BigInt(SIEFP_GPA) | 1n));
  assert.ok(wr(s.vp, 0x40000092, 0xf3n));
  assert.ok(wr(s.vp, 0x40000080, 1n));
}
function slot(s: Setup, n: number): { type: number; size: number; flags: number; index: number; reserved: number; expiration: bigint; delivery: bigint } {
  const at = s.p.map.spaPage[SIMP_GPA / 4096] * 4096 + n * 256;
  const dv = s.dv;
  return {
    type: dv.getUint32(at, true), size: dv.getUint8(at + 4), flags: dv.getUint8(at + 5), index: dv.getUint32(at + 16, true),
    reserved: dv.getUint32(at + 20, true), expiration: dv.getBigUint64(at + 24, true), delivery: dv.getBigUint64(at + 32, true),
  };
}
/** The guest consumes SINT n's slot as vmbus_signal_eom does. */
function consume(s: Setup, n: number): void {
  const at = s.p.map.spaPage[SIMP_GPA / 4096] * 4096 + n * 256;
  const pending = s.dv.getUint8(at + 5) & 1;
  s.dv.setUint32(at, 0, true);
  if (pending !== 0) assert.ok(wr(s.vp, 0x40000084, 0n));
}

test('STIMER MSRs exist only with both the timer and SynIC privileges; CPUID 0x40000003 EAX bit 3 and EDX bit 19 follow', () => {
  for (const [synic, timers] of [[false, false], [true, false], [false, true], [true, true]]) {
    const s = child(synic, timers);
    const leaf = s.p.cpuid.get('40000003')!;
    const on = synic && timers;
    for (let m = CONFIG0; m <= 0x400000b7; m++) assert.equal(rd(s.vp, m), on ? 0n : 'gp', `0x${m.toString(16)} synic=${synic} timers=${timers}`);
    assert.equal(wr(s.vp, CONFIG0, 0n), on, `write synic=${synic} timers=${timers}`);
    assert.equal((leaf.eax >>> 3) & 1, on ? 1 : 0, `EAX bit 3 synic=${synic} timers=${timers}`);
    assert.equal((leaf.edx >>> 19) & 1, on ? 1 : 0, `EDX bit 19 synic=${synic} timers=${timers}`);
  }
});

test('CONFIG: reserved bits and direct-mode vectors below 16 raise #GP; SINTx 0 cannot enable a message timer', () => {
  const { vp } = child();
  for (const bit of [13n, 14n, 15n, 20n, 31n, 32n, 63n]) assert.equal(wr(vp, CONFIG0, 1n << bit), false, `bit ${bit}`);
  assert.equal(wr(vp, CONFIG0, DIRECT | vec(15) | ENABLE), false, 'direct vector 15');
  assert.equal(wr(vp, CONFIG0, DIRECT | vec(0)), false, 'direct vector 0, even disabled');
  assert.equal(rd(vp, CONFIG0), 0n, 'refused writes leave CONFIG');
  const all = ENABLE | PERIODIC | LAZY | AUTO | vec(0xff) | DIRECT | sintx(15);
  assert.ok(wr(vp, CONFIG0 + 6, all));
  assert.equal(rd(vp, CONFIG0 + 6), all, 'every defined bit reads back');
  assert.ok(wr(vp, CONFIG0 + 2, ENABLE | sintx(0)));
  assert.equal(rd(vp, CONFIG0 + 2), 0n, 'message mode with SINTx 0: marked disabled at once');
  assert.ok(wr(vp, CONFIG0 + 2, ENABLE | DIRECT | vec(0x40)));
  assert.equal(rd(vp, CONFIG0 + 2), ENABLE | DIRECT | vec(0x40), 'direct mode ignores SINTx');
  assert.ok(wr(vp, COUNT0 + 4, 0xffffffffffffffffn));
  assert.equal(rd(vp, COUNT0 + 4), 0xffffffffffffffffn, 'COUNT holds 64 bits');
});

test('direct one-shot: fires when reference time reaches COUNT, once, then clears enable; a past COUNT fires at the next poll', () => {
  const s = child();
  const { vp } = s;
  const t = vp.synic.timers;
  assert.ok(wr(vp, CONFIG0, ENABLE | AUTO | DIRECT | vec(0xed)));
  assert.equal(t.deadline(), Infinity, 'enabled with COUNT 0: not armed');
  assert.ok(wr(vp, COUNT0, 1000n));
  assert.equal(t.deadline(), 1000 * 100, 'deadline in TSC ticks: 100 per 100 ns');
  at(vp, 999);
  assert.equal(irr(vp, 0xed), false, 'not before COUNT');
  at(vp, 1000);
  assert.equal(irr(vp, 0xed), true, 'at COUNT');
  assert.equal(rd(vp, CONFIG0), AUTO | DIRECT | vec(0xed), 'enable cleared');
  assert.equal(rd(vp, COUNT0), 1000n, 'COUNT kept');
  assert.equal(t.deadline(), Infinity);
  vp.apic.acknowledge();
  vp.apic.eoi();
  at(vp, 5000);
  assert.equal(irr(vp, 0xed), false, 'a one-shot fires once');
  assert.ok(wr(vp, COUNT0, 10n));
  assert.equal(rv(vp, CONFIG0) & ENABLE, ENABLE, 'auto-enable set enable');
  assert.equal(t.deadline(), 10 * 100, 'armed in the past');
  at(vp, 5000);
  assert.equal(irr(vp, 0xed), true, 'a past COUNT fires at once');
  assert.ok(wr(vp, COUNT0, 6000n));
  assert.ok(wr(vp, COUNT0, 0n));
  assert.equal(rv(vp, CONFIG0) & ENABLE, 0n, 'COUNT 0 disables');
  assert.equal(t.deadline(), Infinity);
  // Without auto-enable a COUNT write arms nothing until CONFIG enables the timer.
  assert.ok(wr(vp, CONFIG0, DIRECT | vec(0xed)));
  assert.ok(wr(vp, COUNT0, 7000n));
  assert.equal(rv(vp, CONFIG0) & ENABLE, 0n);
  assert.equal(t.deadline(), Infinity);
  assert.ok(wr(vp, CONFIG0, ENABLE | DIRECT | vec(0xed)));
  assert.equal(t.deadline(), 7000 * 100);
});

test('periodic: COUNT is the period from when the timer is armed; direct mode coalesces missed periods', () => {
  const s = child();
  const { vp } = s;
  at(vp, 100);
  assert.ok(wr(vp, COUNT0, 250n));
  assert.ok(wr(vp, CONFIG0, ENABLE | PERIODIC | DIRECT | vec(0x50)));
  assert.equal(vp.synic.timers.deadline(), 350 * 100, 'first expiry one period after enable');
  const fires: number[] = [];
  for (let r = 100; r <= 1200; r++) {
    at(vp, r);
    if (irr(vp, 0x50)) { fires.push(r); vp.apic.acknowledge(); vp.apic.eoi(); }
  }
  assert.deepEqual(fires, [350, 600, 850, 1100]);
  assert.equal(rv(vp, CONFIG0) & ENABLE, ENABLE, 'periodic timers stay enabled');
  at(vp, 5000); // the root stepped the clock forward over 15 periods
  assert.equal(irr(vp, 0x50), true);
  vp.apic.acknowledge(); vp.apic.eoi();
  assert.equal(vp.synic.timers.deadline(), 5100 * 100, 'the period grid continues after the first one past now');
  assert.ok(wr(vp, CONFIG0, 0n));
  assert.equal(vp.synic.timers.deadline(), Infinity, 'CONFIG 0 stops it');
});

test('message mode: HVMSG_TIMER_EXPIRED in the SINTx slot with index, expiration and delivery times, and the SINT vector', () => {
  const s = child();
  const { vp } = s;
  enableSynic(s);
  assert.ok(wr(vp, CONFIG0 + 2, AUTO | sintx(2)));
  assert.ok(wr(vp, COUNT0 + 2, 400n));
  at(vp, 400);
  assert.deepEqual(slot(s, 2), { type: TIMER_EXPIRED, size: 24, flags: 0, index: 1, reserved: 0, expiration: 400n, delivery: 400n });
  assert.equal(irr(vp, 0xf3), true, 'SINT2 vector raised');
  assert.equal(rv(vp, CONFIG0 + 2) & ENABLE, 0n, 'one-shot disabled after delivery');
});

test('message mode: a busy slot holds the expiry (MessagePending) until EOM, which delivers it with that moment as delivery time', () => {
  const s = child();
  const { vp } = s;
  enableSynic(s);
  assert.ok(wr(vp, CONFIG0, AUTO | sintx(2)));
  assert.ok(wr(vp, COUNT0, 100n));
  assert.ok(wr(vp, CONFIG0 + 2, AUTO | sintx(2)));
  assert.ok(wr(vp, COUNT0 + 2, 150n));
  at(vp, 100);
  assert.equal(slot(s, 2).index, 0);
  at(vp, 150);
  assert.equal(slot(s, 2).index, 0, "timer 1's expiry waits");
  assert.equal(slot(s, 2).flags & 1, 1, 'MessagePending set on the busy slot');
  assert.equal(rv(vp, CONFIG0 + 2) & ENABLE, ENABLE, 'still enabled while waiting');
  assert.equal(vp.synic.timers.deadline(), Infinity, 'a waiting expiry needs no deadline');
  at(vp, 900);
  consume(s, 2);
  const m = slot(s, 2);
  assert.deepEqual([m.type, m.index, m.expiration, m.delivery], [TIMER_EXPIRED, 1, 150n, 900n]);
  assert.equal(rv(vp, CONFIG0 + 2) & ENABLE, 0n);
  // The guest's freeing without EOM is found at the next expiry (the slot is free then).
  s.dv.setUint32(s.p.map.spaPage[SIMP_GPA / 4096] * 4096 + 512, 0, true);
  assert.ok(wr(vp, COUNT0, 1000n));
  at(vp, 1000);
  assert.deepEqual([slot(s, 2).index, slot(s, 2).delivery], [0, 1000n]);
  assert.equal(vp.synic.stats.delivered, 3);
});

test('message mode: a masked SINT, a disabled SynIC or SIM page holds the expiry until the guest enables them', () => {
  const s = child();
  const { vp } = s;
  assert.ok(wr(vp, CONFIG0, AUTO | sintx(5)));
  assert.ok(wr(vp, COUNT0, 100n));
  at(vp, 200);
  assert.ok(wr(vp, 0x40000083, BigInt(SIMP_GPA) | 1n));
  assert.ok(wr(vp, 0x40000095, 0x60n));
  at(vp, 300);
  assert.equal(slot(s, 5).type, 0, 'SCONTROL disabled: nothing delivered');
  assert.equal(vp.synic.timers.wakeDeadline(), Infinity);
  at(vp, 400);
  assert.ok(wr(vp, 0x40000080, 1n));
  assert.deepEqual([slot(s, 5).type, slot(s, 5).expiration, slot(s, 5).delivery], [TIMER_EXPIRED, 100n, 400n], 'SCONTROL enable delivers');
  assert.equal(irr(vp, 0x60), true);
  consume(s, 5);
  assert.ok(wr(vp, 0x40000095, 0x10060n)); // masked
  assert.ok(wr(vp, COUNT0, 500n));
  assert.equal(vp.synic.timers.wakeDeadline(), Infinity, 'a masked SINT cannot wake the VP');
  at(vp, 600);
  assert.equal(slot(s, 5).type, 0, 'masked: nothing delivered');
  at(vp, 700);
  assert.ok(wr(vp, 0x40000095, 0x60n));
  assert.deepEqual([slot(s, 5).expiration, slot(s, 5).delivery], [500n, 700n], 'unmasking delivers');
});

test('periodic message timers after the clock stepped forward: non-lazy delivers missed periods one by one (at most MAX_CATCH_UP), lazy skips them', () => {
  for (const lazy of [false, true]) {
    for (const step of [1050, 10_050]) {
      const s = child();
      const { vp } = s;
      enableSynic(s);
      assert.ok(wr(vp, COUNT0, 100n));
      assert.ok(wr(vp, CONFIG0, ENABLE | PERIODIC | (lazy ? LAZY : 0n) | sintx(2)));
      const seen: bigint[] = [];
      at(vp, step);
      for (let i = 0; i < 200; i++) {
        const m = slot(s, 2);
        if (m.type === 0) break;
        assert.equal(m.delivery, BigInt(step));
        seen.push(m.expiration);
        consume(s, 2);
        vp.synic.timers.poll(vp.now()); // the next instruction boundary
      }
      const missed = Math.floor(step / 100);
      const expect: bigint[] = [100n];
      if (!lazy) {
        const last = Math.min(missed - 1, MAX_CATCH_UP);
        for (let k = missed - last + 1; k <= missed; k++) expect.push(BigInt(k * 100));
      }
      assert.deepEqual(seen, expect, `lazy=${lazy} step=${step}`);
      assert.equal(vp.synic.timers.deadline(), (missed + 1) * 100 * 100, 'back on the period grid');
    }
  }
});

test('dispatch: a halted VP fast-forwards to a timer that can wake it and is BLOCKED by one that cannot', () => {
  const s = child();
  const { vp } = s;
  const r = new DispatchResult();
  assert.ok(wr(vp, CONFIG0, AUTO | DIRECT | vec(0xed)));
  assert.ok(wr(vp, COUNT0, 1000n)); // reference time 1000 = instruction 10000
  vp.halted = true;
  vp.dispatch(4000, false, r);
  assert.deepEqual([vp.halted, vp.instructionTime, r.state], [true, 4000, 2], 'the budget ends first: still halted');
  vp.dispatch(6000, false, r); // up to the expiry; it fires at the next dispatch's first instruction boundary
  assert.deepEqual([vp.halted, vp.instructionTime], [true, 10_000]);
  vp.dispatch(0, false, r);
  assert.deepEqual([vp.halted, vp.instructionTime, irr(vp, 0xed)], [false, 10_000, true], 'woken exactly at COUNT');
  // A message timer on a masked SINT cannot wake it: nothing else can, so the dispatch blocks at once.
  vp.apic.acknowledge(); vp.apic.eoi();
  enableSynic(s);
  assert.ok(wr(vp, 0x40000092, 0x100f3n));
  assert.ok(wr(vp, CONFIG0, AUTO | sintx(2)));
  assert.ok(wr(vp, COUNT0, 2000n));
  vp.halted = true;
  vp.dispatch(100_000, false, r);
  assert.deepEqual([r.state, vp.instructionTime], [1, 10_000], 'BLOCKED, no time skipped');
  // Unmasked, the same timer is the wake-up.
  assert.ok(wr(vp, 0x40000092, 0xf3n));
  vp.dispatch(10_000, false, r);
  vp.dispatch(0, false, r);
  assert.deepEqual([vp.halted, vp.instructionTime, slot(s, 2).expiration, slot(s, 2).delivery], [false, 20_000, 2000n, 2000n], 'fast-forwarded to it');
  assert.equal(vp.cpu.icount, 0, 'no instruction ran');
});

test('hostile CONFIG/COUNT values and clock jumps never throw, and what reads back is always a legal CONFIG', () => {
  const s = child();
  const { vp } = s;
  enableSynic(s);
  let seed = 12345;
  const rnd = (): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; }; // xorshift32
  let ref = 0;
  for (let i = 0; i < 20_000; i++) {
    const timer = rnd() & 3;
    const kind = rnd() % 6;
    const lo = (rnd() & 1) !== 0 ? rnd() | 0 : (rnd() & 0xf1fff) | 0;
    const hi = (rnd() & 7) === 0 ? rnd() | 0 : 0;
    if (kind === 0) vp.wrmsr(CONFIG0 + 2 * timer, lo, hi);
    else if (kind === 1) vp.wrmsr(COUNT0 + 2 * timer, (rnd() & 1) !== 0 ? lo : ref + (rnd() & 0xff), (rnd() & 15) === 0 ? hi : 0);
    else if (kind === 2) { ref += rnd() & ((rnd() & 1) !== 0 ? 0xf : 0xfffff); at(vp, ref); }
    else if (kind === 3) consume(s, 2);
    else if (kind === 4) { const v = vp.apic.acknowledge(); if (v >= 0) vp.apic.eoi(); }
    else vp.wrmsr(0x40000092, (rnd() & 1) !== 0 ? 0xf3 : 0x100f3, 0);
    const c = rv(vp, CONFIG0 + 2 * timer);
    assert.equal(c & ~0xf1fffn, 0n, 'no reserved bit reads back');
    if ((c & DIRECT) !== 0n) assert.ok(((c >> 4n) & 0xffn) >= 16n, 'a direct vector is never below 16');
    if ((c & (ENABLE | DIRECT)) === ENABLE) assert.notEqual((c >> 16n) & 0xfn, 0n, 'no message timer enabled on SINTx 0');
  }
  assert.ok(vp.synic.timers.stats.expiries > 100, `timers fired: ${vp.synic.timers.stats.expiries}`);
});

test("the root's forward step of the VP's clock (HvCallSetVpRegisters TimeRefCount) fires the timers that fell due, at the next boundary", () => {
  const s = child();
  const { vp } = s;
  enableSynic(s);
  assert.ok(wr(vp, CONFIG0, AUTO | DIRECT | vec(0xed)));
  assert.ok(wr(vp, COUNT0, 5000n));
  assert.ok(wr(vp, CONFIG0 + 2, AUTO | sintx(2)));
  assert.ok(wr(vp, COUNT0 + 2, 6000n));
  const r = s.hv.rootInterface();
  const dv = new DataView(r.memory.buffer);
  const inGpa = r.rootFirstPage * 4096;
  dv.setBigUint64(inGpa, BigInt(s.p.id), true); // partition, VP 0, VTL 0
  dv.setBigUint64(inGpa + 8, 0n, true);
  dv.setUint32(inGpa + 16, 0x00090004, true); // HvRegisterTimeRefCount
  dv.setBigUint64(inGpa + 32, 8000n, true);
  r.hypercall(0x0051, 1, inGpa, 0, 0, 0); // rep count 1
  assert.equal(r.result[0], 0);
  assert.equal(rd(vp, 0x40000020), 8000n, 'the clock moved');
  assert.equal(irr(vp, 0xed), false, 'nothing fires inside the hypercall');
  vp.dispatch(0, false, new DispatchResult());
  assert.equal(irr(vp, 0xed), true, 'the direct timer fired at the next boundary');
  assert.deepEqual([slot(s, 2).expiration, slot(s, 2).delivery], [6000n, 8000n], 'the message says when it was due and when it came');
});
