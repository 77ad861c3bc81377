// The ACPI tables and the AML builder judged by ACPICA's iasl (Debian acpica-tools, installed when missing):
// every generated table disassembles without complaint, recompiles from iasl's own disassembly to the same
// bytes, and the builder's AML equals what iasl compiles from the same ASL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acpi } from '../../src/firmware/index.js';
import { iasl, scratch } from './iasl.js';

const {
  and, arg, buffer, buildAcpiTables, defaultAcpiPlatform, device, eisaId, elseDo, ifThen, ioPort, lEqual, local,
  memory32Fixed, method, name, notify, ONES, or, pkg, qwordMemory, ref, resourceTemplate, ret, scope, sdt, store, string,
  vmbusAcpiDevices, VMBUS_MMIO_LOW,
} = acpi;

/** What iasl says when something is wrong in a table it reads or compiles. */
const COMPLAINT = /error|warning|incorrect|invalid|\*\*\*\*|unknown|could not|mismatch/i;

/**
 * The VMBus module device the worker puts in the DSDT (src/firmware/acpi/vmbus-device.ts), with a second, high
 * MMIO range to cover both range shapes. `hid` is the VMBus device's _HID: Linux matches "VMBus", which iasl's
 * compiler refuses (a _HID string must have 7 or 8 characters), so the recompiling test uses an ACPI-style id.
 */
function vmbusLikeDevice(hid: string | null): Uint8Array {
  return vmbusAcpiDevices({ mmio: [VMBUS_MMIO_LOW, { base: 0x1000000000n, length: 0x1000000000n }], hid: hid ?? 'HYPV0001' });
}

function tablesFor(vpCount: number, devices: Uint8Array[] = []): Map<string, Uint8Array> {
  const p = defaultAcpiPlatform(vpCount);
  p.devices = devices;
  return new Map(buildAcpiTables(p).tables.map((t) => [t.signature, t.bytes]));
}

/** Bytes equal except the checksum (9) and creator id/revision (28..35), which iasl's compiler sets to its own. */
function assertSameButCreator(ours: Uint8Array, theirs: Uint8Array, what: string): void {
  assert.equal(theirs.length, ours.length, `${what}: length`);
  const mask = (b: Uint8Array): number[] => [...b].map((x, i) => (i === 9 || (i >= 28 && i < 36) ? 0 : x));
  assert.deepEqual(mask(theirs), mask(ours), `${what}: bytes recompiled from iasl's disassembly`);
}

for (const vpCount of [1, 4]) {
  test(`iasl disassembles every table (${vpCount} VP) cleanly and recompiles it to the same bytes`, () => {
    const dir = scratch(`tables-${vpCount}`);
    const tables = tablesFor(vpCount, [vmbusLikeDevice(null)]);
    for (const [sig, bytes] of tables) {
      if (sig === 'RSDP') continue; // iasl cannot load an RSDP file; checked by compiling one below
      const base = sig.toLowerCase();
      writeFileSync(join(dir, `${base}.dat`), bytes);
      const d = iasl(dir, '-d', `${base}.dat`);
      assert.equal(d.status, 0, `${sig}: iasl -d failed:\n${d.output}`);
      assert.doesNotMatch(d.output, COMPLAINT, `${sig}: iasl -d complained:\n${d.output}`);
      const dsl = readFileSync(join(dir, `${base}.dsl`), 'utf8');
      assert.doesNotMatch(dsl.replace(/^ \* .*$/gm, ''), COMPLAINT, `${sig}: the disassembly carries a complaint:\n${dsl}`);
      const c = iasl(dir, '-p', `rt-${base}`, `${base}.dsl`);
      assert.equal(c.status, 0, `${sig}: recompiling iasl's own disassembly failed:\n${c.output}`);
      assert.match(c.output, /0 Errors, 0 Warnings/);
      assertSameButCreator(bytes, readFileSync(join(dir, `rt-${base}.aml`)), sig);
    }
    const dsdt = readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
    assert.match(dsdt, /Name \(_S5, Package \(0x04\)[^}]*0x05,\s*0x05,\s*Zero,\s*Zero\s*\}/, '\\_S5 with SLP_TYP 5');
    assert.match(dsdt, /Name \(_S0, Package \(0x04\)/);
    for (let vp = 0; vp < vpCount; vp++) {
      const uid = vp === 0 ? 'Zero' : vp === 1 ? 'One' : `0x0${vp}`;
      assert.match(dsdt, new RegExp(`Device \\(C00${vp}\\)\\s*\\{\\s*Name \\(_HID, "ACPI0007"[^\\n]*\\n\\s*Name \\(_UID, ${uid}\\)`), `processor C00${vp}`);
    }
    assert.doesNotMatch(dsdt, new RegExp(`Device \\(C00${vpCount}\\)`), 'no processor beyond the VP count');
    assert.match(dsdt, /Device \(VMOD\)[\s\S]*"ACPI0004"[\s\S]*QWordMemory[\s\S]*Device \(VMBS\)[\s\S]*"VMBUS"/, 'the VMBus module device in \\_SB');
    const madt = readFileSync(join(dir, 'apic.dsl'), 'utf8');
    assert.equal((madt.match(/Subtable Type : 00 \[Processor Local APIC\]/g) ?? []).length, vpCount);
    assert.match(madt, /Local Apic Address : FEE00000/);
    assert.match(madt, /PC-AT Compatibility : 0/);
    assert.match(madt, /Subtable Type : 01 \[I\/O APIC\][\s\S]*?Address : FEC00000\s*\n[^\n]*Interrupt : 00000000/);
    assert.match(madt, /Source : 09\s*\n[^\n]*Interrupt : 00000009\s*\n[^\n]*Flags[^\n]*: 000D\s*\n\s*Polarity : 1\s*\n\s*Trigger Mode : 3/, 'SCI: level, active high');
    assert.match(madt, /Source : 00\s*\n[^\n]*Interrupt : 00000002/, 'IRQ 0 -> GSI 2');
    const fadt = readFileSync(join(dir, 'facp.dsl'), 'utf8');
    assert.match(fadt, /Revision : 06/);
    assert.match(fadt, /SCI Interrupt : 0009/);
    assert.match(fadt, /PM1A Event Block Address : 00000400/);
    assert.match(fadt, /PM1A Control Block Address : 00000404/);
    assert.match(fadt, /Reset Register Supported \(V2\) : 1/);
    assert.match(fadt, /Hardware Reduced \(V5\) : 0/);
    assert.match(fadt, /Value to cause reset : 01/);
    assert.match(fadt, /Reset Register : \[Generic Address Structure\][\s\S]*?Space ID : 01 \[SystemIO\][\s\S]*?Address : 000000000000040C/);
    assert.match(fadt, /FACS Address : 00000000000E0040/);
  });
}

test('a DSDT with the VMBus device Linux binds to (_HID "VMBus") disassembles without complaint', () => {
  const dir = scratch('vmbus');
  writeFileSync(join(dir, 'dsdt.dat'), tablesFor(2, [vmbusLikeDevice('VMBus')]).get('DSDT')!);
  const d = iasl(dir, '-d', 'dsdt.dat');
  assert.equal(d.status, 0, d.output);
  assert.doesNotMatch(d.output, COMPLAINT, d.output);
  const dsl = readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
  assert.match(dsl, /Scope \(_SB\)[\s\S]*Device \(VMOD\)[\s\S]*Device \(VMBS\)[\s\S]*Name \(_HID, "VMBus"\)[\s\S]*Method \(_STA, 0, NotSerialized\)/);
  // An End Tag alone (what iasl compiles from an empty ResourceTemplate () {}) disassembles as a plain buffer.
  assert.match(dsl, /Name \(_CRS, Buffer \(0x02\)[^{]*\{\s*0x79, 0x00\s/, 'the empty _CRS template');
});

test('the worker\'s VMBus devices: VMOD publishes the MMIO hole below the IOAPIC as a producer range; VMBS has an empty _CRS', () => {
  const dir = scratch('vmbus-worker');
  writeFileSync(join(dir, 'dsdt.dat'), tablesFor(1, [vmbusAcpiDevices({ mmio: [VMBUS_MMIO_LOW] })]).get('DSDT')!);
  const d = iasl(dir, '-d', 'dsdt.dat');
  assert.equal(d.status, 0, d.output);
  assert.doesNotMatch(d.output, COMPLAINT, d.output);
  const dsl = readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
  const vmod = /Device \(VMOD\)[\s\S]*?Device \(VMBS\)/.exec(dsl)?.[0] ?? '';
  assert.match(vmod, /Name \(_HID, "ACPI0004"[ )]/);
  assert.match(vmod, /QWordMemory \(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,\s*0x0000000000000000,\s*\/\/ Granularity\s*0x00000000C0000000,\s*\/\/ Range Minimum\s*0x00000000FEBFFFFF,\s*\/\/ Range Maximum\s*0x0000000000000000,\s*\/\/ Translation Offset\s*0x000000003EC00000,\s*\/\/ Length/,
    `one producer range 0xC0000000-0xFEBFFFFF:\n${vmod}`);
  assert.equal((vmod.match(/QWordMemory/g) ?? []).length, 1, 'exactly one range');
  const vmbs = dsl.slice(dsl.indexOf('Device (VMBS)'));
  assert.match(vmbs, /Name \(_HID, "VMBus"[ )]/);
  assert.match(vmbs, /Name \(_UID, Zero\)/);
  assert.match(vmbs, /Method \(_STA, 0, NotSerialized\)[^\n]*\s*\{\s*Return \(STA\)/);
  assert.match(vmbs, /Name \(STA, 0x0F\)/);
  assert.match(vmbs, /Name \(_CRS, Buffer \(0x02\)[^{]*\{\s*0x79, 0x00\s/, 'the empty _CRS template');
});

test('iasl notices a bad checksum (the check above can fail)', () => {
  const dir = scratch('bad-checksum');
  const facp = tablesFor(1).get('FACP')!.slice();
  facp[9] ^= 0x5a;
  writeFileSync(join(dir, 'facp.dat'), facp);
  assert.equal(iasl(dir, '-d', 'facp.dat').status, 0);
  assert.match(readFileSync(join(dir, 'facp.dsl'), 'utf8'), /Incorrect checksum/);
});

test('the RSDP equals the one iasl compiles from the same fields (both checksums)', () => {
  const dir = scratch('rsdp');
  const t = buildAcpiTables(defaultAcpiPlatform(1));
  const rsdp = t.tables.find((x) => x.signature === 'RSDP')!.bytes;
  const xsdt = t.tables.find((x) => x.signature === 'XSDT')!.gpa;
  // iasl's data-table source for an RSDP (the layout `iasl -T RSDP` emits); it computes the checksums itself.
  writeFileSync(join(dir, 'rsdp.asl'), [
    '[0008]                          Signature : "RSD PTR "',
    '[0001]                           Checksum : 00',
    '[0006]                             Oem ID : "HYPATI"',
    '[0001]                           Revision : 02',
    '[0004]                       RSDT Address : 00000000',
    '[0004]                             Length : 00000024',
    `[0008]                       XSDT Address : ${xsdt.toString(16).padStart(16, '0')}`,
    '[0001]                  Extended Checksum : 00',
    '[0003]                           Reserved : 000000',
    '',
  ].join('\n'));
  const c = iasl(dir, 'rsdp.asl');
  assert.equal(c.status, 0, c.output);
  assert.deepEqual([...readFileSync(join(dir, 'rsdp.aml'))], [...rsdp]);
});

test('the AML builder encodes what iasl compiles from the same ASL', () => {
  const dir = scratch('aml');
  const big = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
  const asl = `DefinitionBlock ("", "SSDT", 2, "HYPATI", "REFERENC", 0x00000001)
{
    Name (INT0, Zero)
    Name (INT1, One)
    Name (INTB, 0x7F)
    Name (INTW, 0x1234)
    Name (INTD, 0x12345678)
    Name (INTQ, 0x123456789ABCDEF0)
    Name (ALL1, Ones)
    Name (STR0, "")
    Name (STR1, "Hello, AML")
    Name (EISA, EisaId ("PNP0501"))
    Name (PKG0, Package (0x00) {})
    Name (PKG1, Package (0x05) { 0x05, 0x05, Zero, "x", Package (0x02) { One, 0x100 } })
    Name (BUF0, Buffer (0x03) { 0x01, 0x02, 0x03 })
    Name (BUFL, Buffer (0x1388) { ${[...big].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')} })
    Name (RES1, ResourceTemplate ()
    {
        IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08, )
        Memory32Fixed (ReadWrite, 0xFED00000, 0x00000400, )
        QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
            0x0000000000000000, 0x00000000F8000000, 0x00000000FBFFFFFF, 0x0000000000000000, 0x0000000004000000, , , , AddressRangeMemory, TypeStatic)
        QWordMemory (ResourceConsumer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadOnly,
            0x0000000000000000, 0x0000001000000000, 0x0000001FFFFFFFFF, 0x0000000000000000, 0x0000001000000000, , , , AddressRangeMemory, TypeStatic)
    })
    Scope (_SB)
    {
        Device (DEV0)
        {
            Name (_HID, "ACPI0004")
            Name (_UID, Zero)
            Name (STA, 0x0F)
            Method (_STA, 0, NotSerialized)
            {
                Return (STA)
            }
            Method (_DIS, 0, NotSerialized)
            {
                And (STA, 0x0D, STA)
            }
            Method (CHK, 2, Serialized)
            {
                Store (Arg0, Local0)
                If (LEqual (Local0, Arg1))
                {
                    Notify (DEV0, 0x80)
                    Return (One)
                }
                Else
                {
                    Or (Local0, 0x02, Local1)
                    Return (Local1)
                }
            }
            Device (SUB0)
            {
                Name (_ADR, Zero)
            }
        }
    }
    Scope (\\_SB.DEV0.SUB0)
    {
        Name (DEEP, 0x2A)
    }
}
`;
  writeFileSync(join(dir, 'ref.asl'), asl);
  const c = iasl(dir, 'ref.asl');
  assert.equal(c.status, 0, c.output);
  assert.match(c.output, /0 Errors, 0 Warnings/, c.output);
  const body = acpi.concat(
    name('INT0', 0), name('INT1', 1), name('INTB', 0x7f), name('INTW', 0x1234), name('INTD', 0x12345678),
    name('INTQ', 0x123456789abcdef0n), name('ALL1', ONES), name('STR0', ''), name('STR1', string('Hello, AML')),
    name('EISA', eisaId('PNP0501')), name('PKG0', pkg()), name('PKG1', pkg(5, 5, 0, 'x', pkg(1, 0x100))),
    name('BUF0', buffer(Uint8Array.of(1, 2, 3))), name('BUFL', buffer(big)),
    name('RES1', resourceTemplate(
      ioPort(0x3f8, 0x3f8, 1, 8),
      memory32Fixed(0xfed00000, 0x400),
      qwordMemory(0xf8000000, 0x4000000, { producer: true }),
      qwordMemory(0x1000000000n, 0x1000000000n, { cacheable: 'cacheable', writable: false }))),
    scope('_SB',
      device('DEV0',
        name('_HID', 'ACPI0004'), name('_UID', 0), name('STA', 0x0f),
        method('_STA', {}, ret(ref('STA'))),
        method('_DIS', {}, and(ref('STA'), 0x0d, ref('STA'))),
        method('CHK', { args: 2, serialized: true },
          store(arg(0), local(0)),
          ifThen(lEqual(local(0), arg(1)), notify(ref('DEV0'), 0x80), ret(1)),
          elseDo(or(local(0), 2, local(1)), ret(local(1)))),
        device('SUB0', name('_ADR', 0)))),
    scope('\\_SB.DEV0.SUB0', name('DEEP', 42)),
  );
  const theirs = readFileSync(join(dir, 'ref.aml'));
  const ours = sdt('SSDT', 2, body);
  assert.equal(ours.length, theirs.length, 'table length');
  assert.deepEqual([...ours.subarray(36)], [...theirs.subarray(36)], 'AML body');
});

test('the builder refuses what AML cannot say', () => {
  assert.throws(() => name('TOOLONG', 1), /bad name segment/);
  assert.throws(() => name('1ABC', 1), /bad name segment/);
  assert.throws(() => acpi.integer(-1), /outside/);
  assert.throws(() => acpi.integer(2 ** 60), /not exact/);
  assert.throws(() => eisaId('PNP05'), /bad EISA id/);
  assert.throws(() => string('caf\u00e9'), /outside ASCII/);
  assert.throws(() => method('M', { args: 8 }), /arguments/);
});
