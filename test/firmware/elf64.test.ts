// The ELF64 loader: every malformed or misplaced image is refused with a clear message; a good one lands
// where its program headers say (physical addresses), with the boot structures in place. Images are built here byte by byte from
// the ELF64 layout (Elf64_Ehdr 64 bytes, Elf64_Phdr 56 bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bootKernel, BOOT_PARAMS_GPA, BootError, defaultAcpiPlatform, parseElf64, PD_GPA, PML4_GPA, STACK_TOP, type GuestMemoryWriter,
} from '../../src/firmware/index.js';

const bootElf64 = (image: Uint8Array, mem: GuestMemoryWriter) => bootKernel(image, mem, { acpi: defaultAcpiPlatform(1) }).entry;

interface Seg { type?: number; flags?: number; offset?: number; vaddr: number | bigint; paddr?: number; filesz: number; memsz: number }

function elf(opts: { entry?: number | bigint; segs?: Seg[]; cls?: number; data?: number; machine?: number; type?: number; phentsize?: number } = {}): Uint8Array {
  const segs = opts.segs ?? [{ flags: 5, vaddr: 0x200000, filesz: 16, memsz: 32 }];
  const payloadAt = 64 + 56 * segs.length;
  const size = payloadAt + 16;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, opts.cls ?? 2, opts.data ?? 1, 1]);
  dv.setUint16(16, opts.type ?? 2, true);
  dv.setUint16(18, opts.machine ?? 62, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(opts.entry ?? 0x200000), true);
  dv.setBigUint64(32, 64n, true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, opts.phentsize ?? 56, true);
  dv.setUint16(56, segs.length, true);
  segs.forEach((s, i) => {
    const h = 64 + 56 * i;
    dv.setUint32(h, s.type ?? 1, true);
    dv.setUint32(h + 4, s.flags ?? 5, true);
    dv.setBigUint64(h + 8, BigInt(s.offset ?? payloadAt), true);
    dv.setBigUint64(h + 16, BigInt(s.vaddr), true);
    dv.setBigUint64(h + 24, BigInt(s.paddr ?? s.vaddr), true);
    dv.setBigUint64(h + 32, BigInt(s.filesz), true);
    dv.setBigUint64(h + 40, BigInt(s.memsz), true);
  });
  for (let i = 0; i < 16; i++) b[payloadAt + i] = 0xc0 + i;
  return b;
}

class FakeMemory {
  readonly bytes: Uint8Array;
  constructor(readonly byteLength: number) { this.bytes = new Uint8Array(byteLength); }
  write(gpa: number, data: Uint8Array): void {
    if (gpa < 0 || gpa + data.length > this.byteLength) throw new Error('outside memory');
    this.bytes.set(data, gpa);
  }
}

function refused(image: Uint8Array, pattern: RegExp, mem = 64 << 20): void {
  assert.throws(() => bootElf64(image, new FakeMemory(mem)), (e: unknown) => e instanceof BootError && pattern.test(e.message) && !e.message.includes('\n'));
}

test('malformed ELFs are refused with a one-line reason', () => {
  refused(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0), /only 10 bytes/);
  refused(new Uint8Array(10), /not an ELF file \(bad magic\) and not a Linux bzImage/);
  refused(Uint8Array.from([...'MZ'].map((c) => c.charCodeAt(0)).concat(new Array(70).fill(0))), /bad magic/);
  refused(elf({ cls: 1 }), /not a 64-bit ELF/);
  refused(elf({ data: 2 }), /not a little-endian/);
  refused(elf({ machine: 3 }), /not an x86-64 ELF/);
  refused(elf({ type: 3 }), /position-independent/);
  refused(elf({ type: 1 }), /not an executable/);
  refused(elf({ phentsize: 32 }), /program header size/);
  refused(elf({ segs: [] }), /no program headers/);
  refused(elf({ segs: [{ type: 4, vaddr: 0x200000, filesz: 0, memsz: 0 }] }), /no loadable/);
  refused(elf({ segs: [{ vaddr: 0x200000, filesz: 64, memsz: 32 }] }), /file size 64 exceeds memory size 32/);
  refused(elf({ segs: [{ vaddr: 0x200000, offset: 0x100000, filesz: 16, memsz: 16 }] }), /past the end of the file/);
  refused(elf({ entry: 0x300000 }), /entry point 0x300000 is not inside an executable segment/);
  refused(elf({ segs: [{ flags: 4, vaddr: 0x200000, filesz: 16, memsz: 16 }] }), /not inside an executable segment/);
  const truncated = elf().subarray(0, 100);
  refused(truncated, /program headers extend past the end/);
  const huge = elf();
  new DataView(huge.buffer).setBigUint64(64 + 40, 0xffffffffffffff00n, true);
  refused(huge, /out of range/);
});

test('misplaced segments are refused', () => {
  refused(elf({ entry: 0x1000, segs: [{ vaddr: 0x1000, filesz: 16, memsz: 16 }] }), /overlaps the firmware's area below 0x100000/);
  refused(elf({ entry: 0xf0000, segs: [{ vaddr: 0xf0000, filesz: 16, memsz: 16 }] }), /overlaps the firmware's area below 0x100000/);
  refused(elf({ entry: 0x3ff0000, segs: [{ vaddr: 0x3ff0000, filesz: 16, memsz: 0x20000 }] }), /outside guest memory/);
  refused(elf(), /below the 2097152 byte minimum/, 1 << 20);
});

test('a good ELF is loaded with its bss zeroed and the boot structures in place', () => {
  const mem = new FakeMemory(8 << 20);
  mem.bytes.fill(0xee, 0x200000, 0x200040);
  const image = elf({ segs: [{ flags: 5, vaddr: 0x200000, filesz: 16, memsz: 32 }] });
  const parsed = parseElf64(image);
  assert.equal(parsed.entry, 0x200000n);
  assert.equal(parsed.physicalEntry, 0x200000);
  const st = bootElf64(image, mem);
  assert.deepEqual([...mem.bytes.subarray(0x200000, 0x200010)], Array.from({ length: 16 }, (_, i) => 0xc0 + i));
  assert.ok(mem.bytes.subarray(0x200010, 0x200020).every((b) => b === 0), 'memsz beyond filesz is zeroed');
  assert.equal(mem.bytes[0x200020], 0xee, 'nothing beyond memsz is written');
  assert.equal(st.rip, 0x200000n);
  assert.equal(st.rsp, BigInt(STACK_TOP));
  assert.equal(st.gprs?.rsi, BigInt(BOOT_PARAMS_GPA), 'RSI = boot_params, as for Linux');
  assert.equal(st.rflags & 0x200n, 0n, 'interrupts off');
  assert.equal(st.cs.attributes & 0x2000, 0x2000, '64-bit code segment');
  assert.equal(st.efer & 0x500n, 0x500n, 'LME and LMA');
  const dv = new DataView(mem.bytes.buffer);
  assert.equal(dv.getBigUint64(PML4_GPA, true) & 1n, 1n);
  assert.equal(dv.getBigUint64(PD_GPA + 8 * 511, true), 511n * 0x200000n | 0x83n, 'the last 2 MiB page of the first GiB');
  assert.equal(dv.getBigUint64(PD_GPA + 4 * 4096 - 8, true), 2047n * 0x200000n | 0x83n, 'the last 2 MiB page below 4 GiB');
});

test('a Linux-style ELF (kernel-half virtual addresses, physical e_entry or virtual) enters at the physical entry', () => {
  const VIRT = 0xffffffff81000000n;
  // e_entry physical, as vmlinux links it (ENTRY(phys_startup_64)).
  const phys = elf({ entry: 0x1000000, segs: [{ flags: 5, vaddr: VIRT, paddr: 0x1000000, filesz: 16, memsz: 64 }] });
  const mem = new FakeMemory(64 << 20);
  assert.equal(bootElf64(phys, mem).rip, 0x1000000n);
  assert.equal(mem.bytes[0x1000000], 0xc0, 'loaded at its physical address');
  // e_entry virtual: translated through its segment.
  const virt = elf({ entry: VIRT + 8n, segs: [{ flags: 5, vaddr: VIRT, paddr: 0x1000000, filesz: 16, memsz: 64 }] });
  assert.equal(parseElf64(virt).physicalEntry, 0x1000008);
  assert.equal(bootElf64(virt, new FakeMemory(64 << 20)).rip, 0x1000008n);
});
