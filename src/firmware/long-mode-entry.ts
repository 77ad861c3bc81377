// The 64-bit entry every kernel gets (Linux's "64-bit Boot Protocol", Documentation/arch/x86/boot.rst): long
// mode with paging on, GPA 0 .. 4 GiB identity-mapped with 2 MiB pages, a GDT whose __BOOT_CS (0x10) and
// __BOOT_DS (0x18) are flat 4 GiB code and data, CPL 0, interrupts off, RSI = the boot_params page.
import {
  CODE_SELECTOR, DATA_SELECTOR, GDT_GPA, PD_COUNT, PD_GPA, PDPT_GPA, PML4_GPA, STACK_TOP,
} from './boot-layout.js';

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
  gprs?: { rsi?: bigint };
}

const CR0_PE = 1n, CR0_MP = 2n, CR0_ET = 0x10n, CR0_NE = 0x20n, CR0_WP = 0x10000n, CR0_PG = 0x80000000n;
const CR4_PAE = 0x20n, CR4_OSFXSR = 0x200n, CR4_OSXMMEXCPT = 0x400n;
const EFER_LME = 0x100n, EFER_LMA = 0x400n, EFER_NXE = 0x800n;
// Descriptor attributes (bits 40..47 and 52..55 of a descriptor): present, DPL 0, code exec/read + L, data r/w.
const CODE64_ATTR = 0xa09b;
const DATA_ATTR = 0xc093;
const CODE64_DESCRIPTOR = 0x00af9b000000ffffn;
const DATA_DESCRIPTOR = 0x00cf93000000ffffn;
const GDT_LIMIT = DATA_SELECTOR + 7;

/** Page tables identity-mapping GPA 0 .. 4 GiB with 2 MiB pages, and the GDT. */
export function writeBootStructures(memory: GuestMemoryWriter): void {
  const tables = new Uint8Array(GDT_GPA + GDT_LIMIT + 1 - PML4_GPA);
  const dv = new DataView(tables.buffer);
  const at = (gpa: number): number => gpa - PML4_GPA;
  dv.setBigUint64(at(PML4_GPA), BigInt(PDPT_GPA) | 3n, true); // present, writable
  for (let d = 0; d < PD_COUNT; d++) {
    const pd = PD_GPA + d * 0x1000;
    dv.setBigUint64(at(PDPT_GPA) + d * 8, BigInt(pd) | 3n, true);
    for (let k = 0; k < 512; k++) dv.setBigUint64(at(pd) + k * 8, BigInt(d * 512 + k) * 0x200000n | 0x83n, true); // present, writable, 2 MiB
  }
  dv.setBigUint64(at(GDT_GPA) + CODE_SELECTOR, CODE64_DESCRIPTOR, true);
  dv.setBigUint64(at(GDT_GPA) + DATA_SELECTOR, DATA_DESCRIPTOR, true);
  memory.write(PML4_GPA, tables);
}

/** The entry state; `bootParams` is the zero page's GPA, passed in RSI. */
export function entryState(entry: number, bootParams?: number): LongModeEntryState {
  const data = (): Segment => ({ selector: DATA_SELECTOR, base: 0n, limit: 0xffffffff, attributes: DATA_ATTR });
  const state: LongModeEntryState = {
    rip: BigInt(entry),
    rsp: BigInt(STACK_TOP),
    rflags: 2n, // interrupts off
    cr0: CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG,
    cr3: BigInt(PML4_GPA),
    cr4: CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT,
    efer: EFER_LME | EFER_LMA | EFER_NXE,
    gdtr: { base: BigInt(GDT_GPA), limit: GDT_LIMIT },
    idtr: { base: 0n, limit: 0 },
    cs: { selector: CODE_SELECTOR, base: 0n, limit: 0xffffffff, attributes: CODE64_ATTR },
    ds: data(), es: data(), fs: data(), gs: data(), ss: data(),
  };
  if (bootParams !== undefined) state.gprs = { rsi: BigInt(bootParams) };
  return state;
}
