// The guest crash registers (TLFS "Guest Crash Enlightenment"), as Linux 6.1's drivers/hv/hv_common.c uses them:
// CPUID 0x40000003 EDX bit 10 offers them; CRASH_CTL (0x40000105) read says what the hypervisor supports (bit 63
// CRASH_NOTIFY, bit 62 CRASH_NOTIFY_MSG: Linux registers its log dumper only when 62 is set); P0..P4
// (0x40000100..104) hold what the guest writes; a CRASH_CTL write with bit 63 reaches the root as an MSR-write
// intercept message when it installed one, and the root reads the parameters as HvRegisterGuestCrashP0..Ctl
// (0x210..0x215). Numbers are written out from the TLFS / Linux headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Child, le } from './child.js';
import { Hypervisor, RIGHTS_RWX } from '../../src/hv/index.js';
import { InterceptAccess } from '../../src/winhv/index.js';
import { VidPartition } from '../../src/vid/index.js';

const P0 = 0x40000100, CTL = 0x40000105;
const NOTIFY = 1n << 63n, NOTIFY_MSG = 1n << 62n;
const REG_P0 = 0x210, REG_CTL = 0x215;

/** mov ecx, msr; mov eax, lo; mov edx, hi; wrmsr */
function wrmsr(msr: number, v: bigint): number[] {
  return [0xb9, ...le(msr, 4), 0xb8, ...le(v & 0xffffffffn, 4), 0xba, ...le(v >> 32n, 4), 0x0f, 0x30];
}
/** mov ecx, msr; rdmsr; mov rbx, rdx; shl rbx, 32; or rbx, rax (RBX = the 64-bit value) */
function rdmsrToRbx(msr: number): number[] {
  return [0xb9, ...le(msr, 4), 0x0f, 0x32, 0x48, 0x89, 0xd3, 0x48, 0xc1, 0xe3, 0x20, 0x48, 0x09, 0xc3];
}
const HLT = [0xf4];
const PARAMS = [0x1n, 0x8100060100000000n, 0xffffffff81234567n, 0xdeadbeefn, 0xffffc90000013f00n];

function reportingGuest(ctl: bigint): number[] {
  return [...rdmsrToRbx(CTL), ...PARAMS.flatMap((v, i) => wrmsr(P0 + i, v)), ...wrmsr(CTL, ctl), ...HLT];
}

test('CPUID 0x40000003 EDX offers the crash MSRs (bit 10) to every child', () => {
  const hv = new Hypervisor({ memoryBytes: 16 << 20, childGpaPages: 8192 });
  const p = hv.newChildPartition(hv.root, 0)!;
  assert.equal((p.cpuid.get('40000003')!.edx >>> 10) & 1, 1);
});

test('the guest reports a crash: CRASH_CTL reads notify + message, P0..P4 store, the notify write reaches the root', () => {
  const c = new Child(reportingGuest(NOTIFY));
  c.part.installMsrIntercept(CTL, InterceptAccess.WRITE);
  c.run();
  assert.equal(c.reg('Rbx'), NOTIFY | NOTIFY_MSG, 'CRASH_CTL read: what the hypervisor supports');
  const msr = c.messages.filter((m) => m.type === 0x80010001);
  assert.equal(msr.length, 1, 'one HvMessageTypeX64MsrIntercept: the notify write');
  assert.equal(msr[0].msr, CTL);
  assert.equal(msr[0].access, 1, 'a write');
  const dv = new DataView(msr[0].raw.buffer);
  assert.equal(dv.getUint32(56, true), CTL, 'msr_number at offset 56');
  assert.equal(dv.getBigUint64(64, true), NOTIFY >> 32n, 'RDX: the high half');
  assert.equal(dv.getBigUint64(72, true), 0n, 'RAX: the low half');
  assert.equal(c.messages.at(-1)!.type, 0x80010007, 'the guest went on to its HLT: the write completed');
  const regs = c.part.getRegisters(0, [REG_P0, REG_P0 + 1, REG_P0 + 2, REG_P0 + 3, REG_P0 + 4, REG_CTL]);
  assert.deepEqual(regs, [...PARAMS, NOTIFY]);
});

test('without an intercept the notification is still recorded, and no message is sent', () => {
  const c = new Child(reportingGuest(NOTIFY | NOTIFY_MSG));
  c.run();
  assert.deepEqual(c.messages.map((m) => m.type), [0x80010007], 'only the final halt');
  assert.equal(c.part.getRegisters(0, [REG_CTL])[0], NOTIFY | NOTIFY_MSG);
  assert.equal(c.part.getRegisters(0, [REG_P0 + 4])[0], PARAMS[4]);
});

test('an "every unimplemented MSR" intercept does not receive the crash notification', () => {
  const c = new Child(reportingGuest(NOTIFY));
  c.winhv.installIntercept(c.part.id, 0xc, InterceptAccess.WRITE, 0xffffffff); // HvInterceptTypeX64MsrIndex, all
  c.run();
  assert.deepEqual(c.messages.map((m) => m.type), [0x80010007]);
});

test('CRASH_CTL writes: reserved bits are #GP, a write without bit 63 notifies nothing; P0..P4 take any value', () => {
  const hv = new Hypervisor({ memoryBytes: 16 << 20, childGpaPages: 8192 });
  const p = hv.newChildPartition(hv.root, 0)!;
  for (let g = 0; g < 512; g++) p.map.map(g, hv.pool.pageCount + 64 + g, RIGHTS_RWX);
  assert.ok(hv.newVp(p, 0));
  const vp = p.vps[0]!;
  assert.equal(vp.wrmsr(CTL, 1, 0), false, 'bit 0');
  assert.equal(vp.wrmsr(CTL, 0, 1 << 29), false, 'bit 61');
  assert.equal(vp.wrmsr(CTL, 0, 1 << 30), true, 'bit 62 alone: accepted');
  assert.equal(p.synthetic.crash.notifications, 0, '... and no notification');
  assert.equal(vp.wrmsr(CTL, 0, 1 << 31), true);
  assert.equal(p.synthetic.crash.notifications, 1);
  const out = new Int32Array(2);
  assert.equal(vp.wrmsr(P0 + 3, -1, -1), true);
  assert.ok(vp.rdmsr(P0 + 3, out));
  assert.deepEqual([...out], [-1, -1]);
  assert.equal(vp.rdmsr(P0 + 5 + 1, out), false, '0x40000106 is not a crash register');
});

test('a new partition starts with clear crash registers', () => {
  const c = new Child(reportingGuest(NOTIFY));
  c.run();
  assert.equal(c.part.getRegisters(0, [REG_P0])[0], PARAMS[0]);
  c.part.delete();
  const again = VidPartition.create(c.winhv, { memoryBytes: 2 << 20 });
  assert.deepEqual(again.getRegisters(0, [REG_P0, REG_P0 + 1, REG_P0 + 2, REG_P0 + 3, REG_P0 + 4, REG_CTL]), [0n, 0n, 0n, 0n, 0n, 0n]);
  again.delete();
});
