// The ACPI PM registers: what Linux's ACPICA does to them on poweroff (acpi_hw_legacy_sleep: clear the status
// bits, write PM1a_CNT with SLP_TYP, then again with SLP_EN) powers the VM off; the reset register resets it;
// other accesses only change the stored registers. Ports come from the same platform object as the FADT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AcpiPm, PortBus } from '../../src/vdev/index.js';
import { defaultAcpiPlatform } from '../../src/firmware/index.js';

function machine(): { bus: PortBus; events: string[]; pm: AcpiPm } {
  const events: string[] = [];
  const pm = new AcpiPm(defaultAcpiPlatform(1), { powerOff: () => events.push('off'), reset: () => events.push('reset') });
  const bus = new PortBus();
  pm.register(bus);
  return { bus, events, pm };
}

const p = defaultAcpiPlatform(1);

test('ACPICA poweroff sequence: SLP_TYP first, then SLP_EN with S5 powers off', () => {
  const { bus, events } = machine();
  bus.write(p.pm1aEvtPort, 2, 0xffff); // clear all status bits
  assert.equal(bus.read(p.pm1aEvtPort, 2), 0);
  const cnt = bus.read(p.pm1aCntPort, 2);
  assert.equal(cnt & 1, 1, 'SCI_EN: always in ACPI mode');
  bus.write(p.pm1aCntPort, 2, (cnt & ~0x3c00) | (p.s5SlpTyp << 10));
  assert.deepEqual(events, [], 'SLP_TYP alone does nothing');
  assert.equal((bus.read(p.pm1aCntPort, 2) >> 10) & 7, p.s5SlpTyp, 'SLP_TYP reads back');
  bus.write(p.pm1aCntPort, 2, (cnt & ~0x3c00) | (p.s5SlpTyp << 10) | 0x2000);
  assert.deepEqual(events, ['off']);
  assert.equal(bus.read(p.pm1aCntPort, 2) & 0x2000, 0, 'SLP_EN is write-only');
});

test('byte-wide writes to the control register work as the word write does', () => {
  const { bus, events } = machine();
  bus.write(p.pm1aCntPort + 1, 1, (p.s5SlpTyp << 2) | 0x20); // high byte: SLP_TYP bits 10-12, SLP_EN bit 13
  assert.deepEqual(events, ['off']);
});

test('S0 and unknown sleep types do not power off; other writes are stored', () => {
  const { bus, events, pm } = machine();
  bus.write(p.pm1aCntPort, 2, (p.s0SlpTyp << 10) | 0x2000);
  bus.write(p.pm1aCntPort, 2, (3 << 10) | 0x2000);
  assert.deepEqual(events, []);
  assert.equal(pm.inspect().ignoredSleepTypes, 1);
  bus.write(p.pm1aEvtPort + 2, 2, 0x0121); // PM1_EN: GBL_EN, PWRBTN_EN, TMR_EN
  assert.equal(bus.read(p.pm1aEvtPort + 2, 2), 0x0121);
  assert.equal(bus.read(p.pm1aEvtPort, 4) >>> 0, 0x01210000, 'status word then enable word');
  bus.write(p.pm1aEvtPort, 4, 0x00000000); // writing 0 to status clears nothing; enable overwritten with 0
  assert.equal(bus.read(p.pm1aEvtPort + 2, 2), 0);
});

test('the reset register resets only on the FADT reset value', () => {
  const { bus, events } = machine();
  bus.write(p.resetPort, 1, p.resetValue ^ 0xff);
  assert.deepEqual(events, []);
  bus.write(p.resetPort, 1, p.resetValue);
  assert.deepEqual(events, ['reset']);
});
