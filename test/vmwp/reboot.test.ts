// A guest reset through the worker: with --on-reset reboot the VM starts again in the same process with every
// piece of state at its power-on value, which reset-guest.c checks from inside by printing what it finds at boot
// (virtual TSC, its own .data, RAM outside its image, UART scratch, IOAPIC entry, APIC SVR, PM1a_EN, the Hyper-V
// MSRs) after changing all of it in the previous boot; with 'stop' (the default for an ELF) the run ends with
// the reset or triple fault. Power-on values are written out from the specs: 0 for RAM and the MSRs, the
// 16550's scratch 0, IOAPIC entries masked (0x10000, 82093AA), APIC SVR 0xFF (SDM 11.4.7.1), PM1_EN 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultAcpiPlatform } from '../../src/firmware/index.js';
import { runResetGuest, stateLines } from './reset-guest.js';

const POWER_ON = {
  data: '0x1111', ram: '0x0', scr: '0x0', rte4: '0x10000', svr: '0xff', pm1en: '0x0',
  osid: '0x0', hypercall: '0x0', reftsc: '0x0', crash0: '0x0',
};
const DIRTY = {
  hcpage: '0xf', data: '0x2222', ram: '0xfeedface', scr: '0x5a', rte4: '0x10041', svr: '0x1ff', pm1en: '0x100',
  osid: '0x8100060100000000', hypercall: '0x1200001', reftsc: '0x1400001', crash0: '0x1234',
};

test('the guest writes the platform\'s reset register and value (as the FADT publishes them)', () => {
  const p = defaultAcpiPlatform(1);
  assert.equal(p.resetPort, 0x40c, 'reset-guest.c hard-codes port 0x40c');
  assert.equal(p.resetValue, 0x01, '... and value 1');
  assert.equal(p.pm1aEvtPort + 2, 0x402, '... and PM1a_EN at 0x402');
});

for (const cmd of ['reset-reg', 'triple']) {
  test(`--on-reset reboot: a ${cmd} restarts the VM with power-on state, three boots alike`, async () => {
    const r = await runResetGuest(cmd, 'reboot', 3);
    const report = r.out + r.trace;
    assert.deepEqual(r.exit, { kind: 'stopped', reason: 'host' }, report);
    const boots = stateLines(r.out, 'boot');
    assert.equal(boots.length, 3, report);
    for (const b of boots) {
      const { tsc, ...rest } = b;
      assert.deepEqual(rest, POWER_ON, report);
      assert.equal(tsc, boots[0].tsc, 'virtual time starts again from 0: the same TSC at the same instruction');
    }
    assert.ok(Number(boots[0].tsc) < 0x1000, `a fresh VP's TSC is small (${boots[0].tsc})`);
    const dirty = stateLines(r.out, 'dirty');
    assert.equal(dirty.length, 3);
    for (const d of dirty) assert.deepEqual(d, DIRTY, 'every change took in each boot');
    // Each reset announced on the trace stream (stderr in hypatia run); the stop came while boot 4 was built.
    const why = cmd === 'triple' ? 'guest triple fault at rip 0x[0-9a-f]+' : 'guest reset \\(ACPI reset register\\)';
    assert.match(r.trace, new RegExp(`^hypatia: ${why}; rebooting \\(boot 2\\)\\nhypatia: ${why}; rebooting \\(boot 3\\)\\nhypatia: ${why}; rebooting \\(boot 4\\)\\n$`), report);
    assert.equal(r.boots, 4);
    assert.equal(r.worker.onReset, 'reboot');
    // Nothing leaks across teardowns: the hypervisor's memory holds one guest's RAM plus 2 MiB (a partition
    // whose pages were not given back would leave no room for the next boot's), and at the end only the root
    // partition is left, its pool back to all but the one page the dispatcher keeps.
    const hv = r.worker.inspect().hypervisor as { partitions: unknown[]; memory: Record<string, number> };
    assert.equal(hv.partitions.length, 1, 'every child deleted at the end of the run');
    assert.equal(hv.memory.pagesMappedIntoChildren, 0);
    assert.equal(hv.memory.hypervisorPoolFree, hv.memory.hypervisorPoolPages - 1);
  });
}

test('an ELF kernel stops on a reset by default: the reset register ends the run', async () => {
  const r = await runResetGuest('reset-reg');
  assert.equal(r.worker.onReset, 'stop');
  assert.deepEqual(r.exit, { kind: 'reset' });
  assert.equal(r.boots, 1);
  assert.equal(r.trace, '');
});

test('an ELF kernel stops on a triple fault by default', async () => {
  const r = await runResetGuest('triple');
  assert.equal(r.exit.kind, 'triple-fault');
  assert.equal(r.boots, 1);
});

test('a crash reported through the crash MSRs ends the run as a panic, even with --on-reset reboot', async () => {
  const r = await runResetGuest('crash', 'reboot');
  assert.equal(r.boots, 1, r.trace);
  assert.equal(r.exit.kind, 'panic');
  if (r.exit.kind !== 'panic') return;
  assert.deepEqual(r.exit.crash, { source: 'crash-msrs', params: [0x11n, 0x22n, 0x33n, 0x44n, 0x55n], log: null, message: null });
});

test('a crash with a log page (CRASH_NOTIFY_MSG): the worker reads the log from guest RAM', async () => {
  const r = await runResetGuest('crash-msg', 'reboot');
  assert.equal(r.exit.kind, 'panic');
  if (r.exit.kind !== 'panic') return;
  const c = r.exit.crash;
  assert.deepEqual(c.params, [0n, 0n, 0n, 0x1300000n, 100n]);
  assert.equal(c.log, '[    1.000000] something went wrong\n[    1.000001] Kernel panic - not syncing: reset-guest log page');
  assert.equal(c.message, 'Kernel panic - not syncing: reset-guest log page');
});

test('a guest that reports a crash and then hangs is stopped after the grace period', async () => {
  const t0 = Date.now();
  const r = await runResetGuest('crash-hang', 'reboot');
  assert.equal(r.exit.kind, 'panic');
  if (r.exit.kind === 'panic') assert.equal(r.exit.crash.params?.[0], 0x11n);
  assert.ok(Date.now() - t0 < 30_000);
});

test('without crash MSRs: a reset right after the console\'s panic line is a panic, not a reboot', async () => {
  const r = await runResetGuest('panic-line', 'reboot');
  assert.equal(r.boots, 1, r.trace);
  assert.deepEqual(r.exit, { kind: 'panic', crash: { source: 'console', params: null, log: null, message: 'Kernel panic - not syncing: reset-guest console panic' } });
});

test('halting with interrupts off still ends the run (status 0 in hypatia run)', async () => {
  const r = await runResetGuest('halt', 'reboot');
  assert.equal(r.exit.kind, 'halt');
});
