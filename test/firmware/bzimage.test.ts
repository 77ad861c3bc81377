// bzImage loading by the x86 boot protocol, on synthetic images built here from the setup header layout in
// Linux's Documentation/arch/x86/boot.rst: header parsing, every refusal, where the kernel/initrd/command line go,
// and the zero page checked field by field against the offsets of struct boot_params and struct setup_header in
// arch/x86/include/uapi/asm/bootparam.h (the numbers below are written out, not taken from the code under test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BootError, bootKernel, buildE820, defaultAcpiPlatform, parseBzImage, type GuestMemoryWriter,
} from '../../src/firmware/index.js';

const MiB = 1 << 20;

interface Hdr {
  setupSects?: number; version?: number; xloadflags?: number; loadflags?: number; relocatable?: number;
  kernelAlignment?: number; prefAddress?: bigint; initSize?: number; initrdAddrMax?: number; cmdlineSize?: number;
  syssize?: number; magic?: string; bootFlag?: number; jumpDisp?: number;
}

/** A bzImage: setup sectors with a header, then `pm` bytes of "protected-mode kernel" (a recognisable pattern). */
function bzImage(h: Hdr = {}, pm = 4096): Uint8Array {
  const setupSects = h.setupSects ?? 3;
  const setupBytes = ((setupSects === 0 ? 4 : setupSects) + 1) * 512;
  const b = new Uint8Array(setupBytes + pm);
  const dv = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  dv.setUint32(0x1f4, h.syssize ?? Math.ceil(pm / 16), true);
  dv.setUint16(0x1fe, h.bootFlag ?? 0xaa55, true);
  b[0x200] = 0xeb; b[0x201] = h.jumpDisp ?? 0x6a; // jmp short to 0x26C: the header's end for protocol 2.15
  b.set([...(h.magic ?? 'HdrS')].map((c) => c.charCodeAt(0)), 0x202);
  dv.setUint16(0x206, h.version ?? 0x020f, true);
  b[0x211] = h.loadflags ?? 0x01; // LOADED_HIGH
  dv.setUint32(0x214, 0x100000, true); // code32_start
  dv.setUint32(0x22c, h.initrdAddrMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, h.kernelAlignment ?? 0x200000, true);
  b[0x234] = h.relocatable ?? 1;
  b[0x235] = 21; // min_alignment
  dv.setUint16(0x236, h.xloadflags ?? 0x03, true); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  dv.setUint32(0x238, h.cmdlineSize ?? 2047, true);
  dv.setBigUint64(0x258, h.prefAddress ?? 0x1000000n, true);
  dv.setUint32(0x260, h.initSize ?? 0x800000, true);
  for (let i = 0; i < pm; i++) b[setupBytes + i] = (i * 13 + 5) & 0xff;
  return b;
}

class FakeMemory implements GuestMemoryWriter {
  readonly bytes: Uint8Array;
  constructor(readonly byteLength: number) { this.bytes = new Uint8Array(byteLength); }
  write(gpa: number, data: Uint8Array): void {
    if (gpa < 0 || gpa + data.length > this.byteLength) throw new Error('outside memory');
    this.bytes.set(data, gpa);
  }
  get dv(): DataView { return new DataView(this.bytes.buffer); }
}

const acpiPlatform = defaultAcpiPlatform(1);

function refused(image: Uint8Array, pattern: RegExp, opts: { mem?: number; initrd?: Uint8Array; cmdline?: string } = {}): void {
  assert.throws(() => bootKernel(image, new FakeMemory(opts.mem ?? 64 * MiB), { initrd: opts.initrd, cmdline: opts.cmdline, acpi: acpiPlatform }),
    (e: unknown) => e instanceof BootError && pattern.test(e.message) && !e.message.includes('\n'), `expected ${pattern}`);
}

test('setup header: parsed as boot.rst lays it out', () => {
  const bz = parseBzImage(bzImage({ setupSects: 0, initSize: 0x123000, cmdlineSize: 255, prefAddress: 0x2000000n }));
  assert.equal(bz.version, 0x020f);
  assert.equal(bz.kernel.length, 4096, 'setup_sects 0 means 4: the kernel starts at 5 * 512');
  assert.equal(bz.kernel[0], 5);
  assert.equal(bz.initSize, 0x123000);
  assert.equal(bz.cmdlineSize, 255);
  assert.equal(bz.prefAddress, 0x2000000);
  assert.equal(bz.relocatable, true);
  assert.equal(bz.kernelAlignment, 0x200000);
  assert.equal(bz.setupHeader.length, 0x26c - 0x1f1, 'header bytes 0x1F1 .. 0x202 + byte[0x201]');
});

test('refusals: missing, truncated, not Linux, too old, no 64-bit entry', () => {
  refused(new Uint8Array(0), /kernel file is empty/);
  refused(new TextEncoder().encode('#!/bin/sh\necho not a kernel\n'.repeat(40)), /not an ELF file \(bad magic\) and not a Linux bzImage/);
  refused(bzImage({ magic: 'HdrX' }), /not a Linux bzImage/);
  refused(bzImage().subarray(0, 0x250), /truncated: 592 bytes, its setup header alone ends at 0x26c/);
  refused(bzImage().subarray(0, 2048), /truncated: 2048 bytes, the protected-mode kernel should start at 0x800/);
  refused(bzImage().subarray(0, 4000), /truncated: 4000 bytes, the header promises 6144/);
  refused(bzImage({ version: 0x020b }), /boot protocol 2\.11 is too old: the 64-bit entry needs 2\.12/);
  refused(bzImage({ version: 0x0204 }), /boot protocol 2\.04 is too old/);
  refused(bzImage({ xloadflags: 0x02 }), /no 64-bit entry point \(XLF_KERNEL_64 clear\)/);
  refused(bzImage({ loadflags: 0 }), /zImage/);
  refused(bzImage({ bootFlag: 0x1234 }), /boot_flag is 0x1234/);
  refused(bzImage({ jumpDisp: 0x50 }), /setup header ends at 0x252/);
  refused(bzImage({ kernelAlignment: 0x3000 }), /kernel_alignment 0x3000 is not a power of two/);
  refused(bzImage({ initSize: 0 }), /init_size is 0/);
  refused(bzImage({ syssize: 0 }), /syssize is 0/);
  refused(bzImage({ prefAddress: 0x100000000n }), /pref_address 0x100000000 is above 4 GiB/);
});

test('refusals: kernel, initrd or command line that do not fit', () => {
  // pref 16 MiB + init_size 64 MiB does not fit in 64 MiB of RAM.
  refused(bzImage({ initSize: 64 * MiB }), /guest memory of 64 MiB is too small for this kernel: it loads at 0x1000000 and needs 0x4000000 bytes .* at least 80 MiB/);
  // Kernel region 16..24 MiB; RAM 32 MiB leaves 8 MiB for the initrd.
  refused(bzImage(), /initrd of 9437184 bytes does not fit in memory: the kernel needs up to 0x1800000 and the initrd must end below 0x2000000; give the VM at least 33 MiB/, { mem: 32 * MiB, initrd: new Uint8Array(9 * MiB) });
  refused(bzImage(), /initrd is empty/, { initrd: new Uint8Array(0) });
  refused(bzImage({ cmdlineSize: 16 }), /command line is 17 bytes; this kernel accepts at most 16/, { cmdline: 'console=ttyS0 xy' + 'z' });
  refused(bzImage(), /accepts at most 2047/, { cmdline: 'x'.repeat(2048) });
  refused(bzImage({ cmdlineSize: 0x10000 }), /accepts at most 4095/, { cmdline: 'x'.repeat(4096) });
  refused(bzImage(), /not printable ASCII at position 3/, { cmdline: 'abc\ndef' });
  refused(bzImage(), /below the 2097152 byte minimum/, { mem: MiB });
});

test('a bzImage loads at pref_address with the zero page, command line, initrd and entry state of the 64-bit protocol', () => {
  const mem = new FakeMemory(128 * MiB);
  const image = bzImage({ initrdAddrMax: 0x7fffffff });
  const initrd = Uint8Array.from({ length: 3 * MiB + 123 }, (_, i) => (i * 31) & 0xff);
  const cmdline = 'console=ttyS0 root=/dev/ram0';
  const boot = bootKernel(image, mem, { initrd, cmdline, acpi: acpiPlatform });
  assert.equal(boot.kind, 'bzimage');
  // Protected-mode kernel at pref_address (16 MiB), entry at +0x200 (XLF_KERNEL_64's startup_64).
  assert.deepEqual([...mem.bytes.subarray(16 * MiB, 16 * MiB + 4096)], [...image.subarray(2048)]);
  assert.equal(boot.entry.rip, BigInt(16 * MiB + 0x200));
  assert.deepEqual(boot.kernel, { start: 16 * MiB, end: 16 * MiB + 0x800000 }, 'init_size reserved from the load address');
  // Initrd: as high as possible, page-aligned, ending at or below the top of RAM.
  const rdAt = Math.floor((128 * MiB - initrd.length) / 4096) * 4096;
  assert.deepEqual(boot.initrd, { gpa: rdAt, size: initrd.length });
  assert.deepEqual([...mem.bytes.subarray(rdAt, rdAt + initrd.length)].slice(0, 64), [...initrd.subarray(0, 64)]);
  assert.equal(mem.bytes[rdAt + initrd.length - 1], initrd[initrd.length - 1]);

  const zp = boot.bootParamsGpa;
  const dv = mem.dv;
  const u8 = (o: number): number => dv.getUint8(zp + o), u16 = (o: number): number => dv.getUint16(zp + o, true);
  const u32 = (o: number): number => dv.getUint32(zp + o, true), u64 = (o: number): bigint => dv.getBigUint64(zp + o, true);
  // The setup header is copied in at 0x1F1 (struct boot_params.hdr) ...
  assert.equal(u8(0x1f1), 3, 'hdr.setup_sects');
  assert.equal(u16(0x1fe), 0xaa55, 'hdr.boot_flag');
  assert.equal(u32(0x202), 0x53726448, 'hdr.header "HdrS"');
  assert.equal(u16(0x206), 0x020f, 'hdr.version');
  assert.equal(u32(0x22c), 0x7fffffff, 'hdr.initrd_addr_max');
  assert.equal(u32(0x230), 0x200000, 'hdr.kernel_alignment');
  assert.equal(u8(0x234), 1, 'hdr.relocatable_kernel');
  assert.equal(u16(0x236), 0x03, 'hdr.xloadflags');
  assert.equal(u32(0x238), 2047, 'hdr.cmdline_size');
  assert.equal(u64(0x258), 0x1000000n, 'hdr.pref_address');
  assert.equal(u32(0x260), 0x800000, 'hdr.init_size');
  // ... and the loader's fields are filled.
  assert.equal(u16(0x1fa), 0xffff, 'hdr.vid_mode: normal');
  assert.equal(u8(0x210), 0xff, 'hdr.type_of_loader: undefined loader');
  assert.equal(u8(0x211) & 0x81, 0x01, 'hdr.loadflags: LOADED_HIGH kept, CAN_USE_HEAP clear');
  assert.equal(u32(0x214), 16 * MiB, 'hdr.code32_start = load address');
  assert.equal(u32(0x218), rdAt, 'hdr.ramdisk_image');
  assert.equal(u32(0x21c), initrd.length, 'hdr.ramdisk_size');
  assert.equal(u32(0x0c0), 0, 'ext_ramdisk_image');
  assert.equal(u32(0x0c4), 0, 'ext_ramdisk_size');
  const cmdPtr = u32(0x228);
  assert.notEqual(cmdPtr, 0, 'hdr.cmd_line_ptr must be non-zero (boot.rst)');
  assert.equal(u32(0x0c8), 0, 'ext_cmd_line_ptr');
  assert.equal(new TextDecoder().decode(mem.bytes.subarray(cmdPtr, cmdPtr + cmdline.length)), cmdline);
  assert.equal(mem.bytes[cmdPtr + cmdline.length], 0, 'NUL-terminated');
  assert.equal(u32(0x23c), 0, 'hdr.hardware_subarch: PC');
  assert.equal(u64(0x250), 0n, 'hdr.setup_data: none');
  assert.equal(u8(0x1ef), 0, 'sentinel stays 0 in a clean zero page');
  assert.equal(u64(0x070), BigInt(boot.rsdpGpa), 'acpi_rsdp_addr');
  assert.equal(new TextDecoder().decode(mem.bytes.subarray(boot.rsdpGpa, boot.rsdpGpa + 8)), 'RSD PTR ');
  // e820_entries at 0x1E8, the table at 0x2D0: {u64 addr, u64 size, u32 type} packed (20 bytes).
  const n = u8(0x1e8);
  const e820 = Array.from({ length: n }, (_, i) => ({ addr: Number(u64(0x2d0 + 20 * i)), size: Number(u64(0x2d8 + 20 * i)), type: u32(0x2e0 + 20 * i) }));
  assert.deepEqual(e820, buildE820(128 * MiB));
  assert.deepEqual(e820, [
    { addr: 0, size: 0x9fc00, type: 1 },
    { addr: 0x9fc00, size: 0xe0000 - 0x9fc00, type: 2 },
    { addr: 0xe0000, size: 0x20000, type: 3 },
    { addr: 0x100000, size: 127 * MiB, type: 1 },
  ]);
  assert.equal(u32(0x2d0 + 20 * n), 0, 'nothing after the last entry');
  // Nothing else in the page: every byte outside the fields above is zero.
  const owned = new Set<number>();
  const own = (o: number, len: number): void => { for (let i = 0; i < len; i++) owned.add(o + i); };
  own(0x1f1, 0x26c - 0x1f1); own(0x070, 8); own(0x0c0, 12); own(0x1e8, 1); own(0x2d0, 20 * n);
  for (let o = 0; o < 4096; o++) if (!owned.has(o)) assert.equal(u8(o), 0, `zero page byte 0x${o.toString(16)}`);

  // Entry: 64-bit code at __BOOT_CS 0x10, data at __BOOT_DS 0x18, interrupts off, RSI = the zero page.
  const st = boot.entry;
  assert.equal(st.gprs?.rsi, BigInt(zp));
  assert.equal(st.cs.selector, 0x10);
  for (const s of [st.ds, st.es, st.ss]) assert.equal(s.selector, 0x18);
  assert.equal(st.rflags & 0x200n, 0n, 'IF clear');
  assert.equal(st.efer & 0x500n, 0x500n, 'LME|LMA');
  assert.equal(st.cr0 & 0x80000001n, 0x80000001n, 'PG|PE');
  // The GDT's descriptors at 0x10 and 0x18: flat 4 GiB, code exec/read long mode, data read/write.
  const gdt = Number(st.gdtr.base);
  assert.ok(st.gdtr.limit >= 0x1f);
  assert.equal(dv.getBigUint64(gdt + 0x10, true), 0x00af9b000000ffffn);
  assert.equal(dv.getBigUint64(gdt + 0x18, true), 0x00cf93000000ffffn);
  // Identity map: everything the kernel touches first (zero page, command line, kernel, initrd) is mapped.
  const translate = (va: number): number => {
    const cr3 = Number(st.cr3);
    const pml4e = dv.getBigUint64(cr3 + 8 * Math.floor(va / 2 ** 39), true);
    assert.equal(pml4e & 1n, 1n);
    const pdpte = dv.getBigUint64(Number(pml4e & ~0xfffn) + 8 * (Math.floor(va / 2 ** 30) % 512), true);
    assert.equal(pdpte & 1n, 1n);
    const pde = dv.getBigUint64(Number(pdpte & ~0xfffn) + 8 * (Math.floor(va / 2 ** 21) % 512), true);
    assert.equal(pde & 0x81n, 0x81n, '2 MiB page present');
    return Number(pde & ~0x1fffffn) + (va % 2 ** 21);
  };
  for (const va of [zp, cmdPtr, 16 * MiB + 0x200, boot.kernel.end - 1, rdAt, rdAt + initrd.length - 1, 128 * MiB - 1, 0xfee00000, 0xffffffff]) {
    assert.equal(translate(va), va, `identity-mapped 0x${va.toString(16)}`);
  }
});

test('placement follows pref_address, kernel_alignment and initrd_addr_max', () => {
  // A relocatable kernel preferring an unaligned address is aligned up to kernel_alignment.
  let boot = bootKernel(bzImage({ prefAddress: 0x1100000n }), new FakeMemory(64 * MiB), { acpi: acpiPlatform });
  assert.equal(boot.kernel.start, 0x1200000);
  // A non-relocatable kernel runs at pref_address as it is.
  boot = bootKernel(bzImage({ prefAddress: 0x1100000n, relocatable: 0 }), new FakeMemory(64 * MiB), { acpi: acpiPlatform });
  assert.equal(boot.kernel.start, 0x1100000);
  // The initrd stays below initrd_addr_max when the kernel cannot take it above 4 GiB.
  boot = bootKernel(bzImage({ xloadflags: 0x01, initrdAddrMax: 48 * MiB - 1 }), new FakeMemory(128 * MiB), { initrd: new Uint8Array(MiB), acpi: acpiPlatform });
  assert.deepEqual(boot.initrd, { gpa: 47 * MiB, size: MiB });
  // A kernel image longer than init_size reserves its whole length.
  boot = bootKernel(bzImage({ initSize: 0x1000 }, 0x3000), new FakeMemory(64 * MiB), { acpi: acpiPlatform });
  assert.equal(boot.kernel.end - boot.kernel.start, 0x3000);
  // No initrd, no command line: both pointers still valid (an empty, NUL-terminated command line).
  const mem = new FakeMemory(64 * MiB);
  boot = bootKernel(bzImage(), mem, { acpi: acpiPlatform });
  const zp = mem.dv;
  assert.equal(zp.getUint32(boot.bootParamsGpa + 0x218, true), 0);
  assert.equal(zp.getUint32(boot.bootParamsGpa + 0x21c, true), 0);
  assert.equal(mem.bytes[zp.getUint32(boot.bootParamsGpa + 0x228, true)], 0);
});

test('e820: reserved ranges above 1 MiB are cut out of RAM; bad ones refused', () => {
  assert.deepEqual(buildE820(64 * MiB, [{ addr: 8 * MiB, size: MiB }]).slice(3), [
    { addr: MiB, size: 7 * MiB, type: 1 },
    { addr: 8 * MiB, size: MiB, type: 2 },
    { addr: 9 * MiB, size: 55 * MiB, type: 1 },
  ]);
  assert.deepEqual(buildE820(64 * MiB, [{ addr: 60 * MiB, size: 4 * MiB }]).slice(3), [
    { addr: MiB, size: 59 * MiB, type: 1 },
    { addr: 60 * MiB, size: 4 * MiB, type: 2 },
  ]);
  assert.throws(() => buildE820(64 * MiB, [{ addr: 0x80000, size: 4096 }]), BootError);
  assert.throws(() => buildE820(64 * MiB, [{ addr: 63 * MiB, size: 2 * MiB }]), BootError);
  assert.throws(() => buildE820(64 * MiB, [{ addr: 8 * MiB, size: MiB }, { addr: 8 * MiB + 4096, size: 4096 }]), BootError);
});
