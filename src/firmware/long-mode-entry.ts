// Direct boot of a freestanding 64-bit ELF: copy its segments into guest RAM, build identity page tables and
// a GDT in the reserved low area, and describe the processor state at the entry point (long mode, CPL 0,
// interrupts off, a stack).
import {
  CODE_SELECTOR, DATA_SELECTOR, GDT_GPA, IDENTITY_MAPPED_BYTES, MIN_GUEST_MEMORY, PD_GPA, PDPT_GPA, PML4_GPA,
  RESERVED_END, STACK_TOP,
} from './boot-layout.js';
import { ElfError, parseElf64, type ElfImage } from './elf64.js';

/** What the loader needs of guest memory (VID's GuestMemory provides it). */
export interface GuestMemoryWriter {
  readonly byteLength: number;
  write(gpa: number, bytes: Uint8Array): void;
}

export interface Segment { selector: number; base: bigint; limit: number; attributes: number }

/** Processor state at the kernel's entry, in the shape VID's X64InitialState takes. */
export interface LongModeEntryState {
  rip: bigint; rsp: bigint; rflags: bigint;
  cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint;
  gdtr: { base: bigint; limit: number }; idtr: { base: bigint; limit: number };
  cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment;
}

const CR0_PE = 1n, CR0_MP = 2n, CR0_ET = 0x10n, CR0_NE = 0x20n, CR0_WP = 0x10000n, CR0_PG = 0x80000000n;
const CR4_PAE = 0x20n, CR4_OSFXSR = 0x200n, CR4_OSXMMEXCPT = 0x400n;
const EFER_LME = 0x100n, EFER_LMA = 0x400n, EFER_NXE = 0x800n;
// Descriptor attributes (bits 40..47 and 52..55 of a descriptor): present, DPL 0, code exec/read + L, data r/w.
const CODE64_ATTR = 0xa09b;
const DATA_ATTR = 0xc093;

/** Check that an ELF fits this guest: inside RAM, clear of the firmware's area, within the identity map. */
export function checkPlacement(image: ElfImage, memoryBytes: number): void {
  if (memoryBytes < MIN_GUEST_MEMORY) throw new ElfError(`guest memory of ${memoryBytes} bytes is below the ${MIN_GUEST_MEMORY} byte minimum`);
  for (const s of image.segments) {
    const end = s.paddr + s.memSize;
    const range = `0x${s.paddr.toString(16)}-0x${end.toString(16)}`;
    if (s.vaddr !== s.paddr) throw new ElfError(`segment at ${range} has virtual address 0x${s.vaddr.toString(16)}: only identity-linked (virtual == physical) kernels are supported`);
    if (s.paddr < RESERVED_END) throw new ElfError(`segment at ${range} overlaps the firmware's reserved area below 0x${RESERVED_END.toString(16)}`);
    if (end > memoryBytes) throw new ElfError(`segment at ${range} lies outside guest memory (${memoryBytes} bytes)`);
    if (end > IDENTITY_MAPPED_BYTES) throw new ElfError(`segment at ${range} lies beyond the identity-mapped first 1 GiB`);
  }
}

/** Parse, check and load a kernel ELF; returns its entry state. Throws ElfError with a one-line message. */
export function bootElf64(bytes: Uint8Array, memory: GuestMemoryWriter): LongModeEntryState {
  const image = parseElf64(bytes);
  checkPlacement(image, memory.byteLength);
  for (const s of image.segments) {
    memory.write(s.paddr, bytes.subarray(s.offset, s.offset + s.fileSize));
    if (s.memSize > s.fileSize) memory.write(s.paddr + s.fileSize, new Uint8Array(s.memSize - s.fileSize));
  }
  writeBootStructures(memory);
  return entryState(image.entry);
}

/** Page tables identity-mapping the first 1 GiB with 2 MiB pages, and the GDT. */
export function writeBootStructures(memory: GuestMemoryWriter): void {
  const tables = new Uint8Array(0x4000 - PML4_GPA + 0x18);
  const dv = new DataView(tables.buffer);
  const at = (gpa: number): number => gpa - PML4_GPA;
  dv.setBigUint64(at(PML4_GPA), BigInt(PDPT_GPA) | 3n, true); // present, writable
  dv.setBigUint64(at(PDPT_GPA), BigInt(PD_GPA) | 3n, true);
  for (let k = 0; k < 512; k++) dv.setBigUint64(at(PD_GPA) + k * 8, BigInt(k) * 0x200000n | 0x83n, true); // present, writable, 2 MiB
  dv.setBigUint64(at(GDT_GPA) + CODE_SELECTOR, 0x00af9b000000ffffn, true);
  dv.setBigUint64(at(GDT_GPA) + DATA_SELECTOR, 0x00cf93000000ffffn, true);
  memory.write(PML4_GPA, tables);
}

export function entryState(entry: number): LongModeEntryState {
  const data = (): Segment => ({ selector: DATA_SELECTOR, base: 0n, limit: 0xffffffff, attributes: DATA_ATTR });
  return {
    rip: BigInt(entry),
    rsp: BigInt(STACK_TOP),
    rflags: 2n, // interrupts off
    cr0: CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG,
    cr3: BigInt(PML4_GPA),
    cr4: CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT,
    efer: EFER_LME | EFER_LMA | EFER_NXE,
    gdtr: { base: BigInt(GDT_GPA), limit: 0x17 },
    idtr: { base: 0n, limit: 0 },
    cs: { selector: CODE_SELECTOR, base: 0n, limit: 0xffffffff, attributes: CODE64_ATTR },
    ds: data(), es: data(), fs: data(), gs: data(), ss: data(),
  };
}
