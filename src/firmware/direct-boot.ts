// Direct kernel boot: no BIOS and no real-mode code. The firmware loads a Linux bzImage (its protected-mode part)
// or an ELF kernel (Linux's vmlinux, or a freestanding test guest), the initrd and the command line, writes the
// ACPI tables, the e820 map and boot_params, and describes the 64-bit entry state (boot.rst, "64-bit Boot
// Protocol"). Everything the file says is checked first; a refusal is a one-line BootError and nothing runs.
import {
  BOOT_PARAMS_GPA, CMDLINE_GPA, CMDLINE_MAX, KERNEL_MIN_GPA, MIN_GUEST_MEMORY, MMIO_HOLE_START,
} from './boot-layout.js';
import { BootError, hex } from './boot-error.js';
import { buildBootParams } from './boot-params.js';
import { ENTRY_64_OFFSET, looksLikeBzImage, parseBzImage } from './bzimage.js';
import { buildE820, type E820Entry } from './e820.js';
import { ElfError, parseElf64, type ElfImage } from './elf64.js';
import { entryState, writeBootStructures, type GuestMemoryWriter, type LongModeEntryState } from './long-mode-entry.js';
import { buildAcpiTables, type AcpiPlatform, type PlacedTable } from './acpi/index.js';

/** x86 COMMAND_LINE_SIZE is 2048: the longest command line an ELF vmlinux accepts, without the NUL. */
const VMLINUX_CMDLINE_MAX = 2047;
/** Highest initrd byte for an ELF kernel (bzImages state their own initrd_addr_max). */
const VMLINUX_INITRD_ADDR_MAX = 0x7fffffff;
const PAGE = 4096;
const MiB = 2 ** 20;

export interface DirectBootOptions {
  initrd?: Uint8Array;
  cmdline?: string;
  acpi: AcpiPlatform;
}

export interface DirectBoot {
  kind: 'bzimage' | 'elf';
  entry: LongModeEntryState;
  /** The kernel's memory from its load address to the end of what it needs before reading the memory map. */
  kernel: { start: number; end: number };
  initrd: { gpa: number; size: number } | null;
  cmdline: string;
  bootParamsGpa: number;
  rsdpGpa: number;
  e820: E820Entry[];
  acpiTables: PlacedTable[];
}

interface Plan {
  kind: 'bzimage' | 'elf';
  start: number;
  end: number;
  entry: number;
  cmdlineMax: number;
  initrdAddrMax: number;
  load(memory: GuestMemoryWriter): void;
  setupHeader?: Uint8Array;
}

const mib = (n: number): string => `${Math.ceil(n / MiB)} MiB`;

function planBzImage(bytes: Uint8Array, memoryBytes: number): Plan {
  const bz = parseBzImage(bytes);
  // The decompressor works in [runtime start, + init_size), where runtime start is the load address aligned to
  // kernel_alignment but never below LOAD_PHYSICAL_ADDR (pref_address): loading at pref_address makes the two
  // the same, so that one range is the kernel's.
  let start = Math.max(bz.prefAddress, KERNEL_MIN_GPA);
  if (bz.relocatable) start = Math.ceil(start / bz.kernelAlignment) * bz.kernelAlignment;
  const end = start + Math.max(bz.initSize, bz.kernel.length);
  if (end > memoryBytes) throw new BootError(`guest memory of ${mib(memoryBytes)} is too small for this kernel: it loads at ${hex(start)} and needs ${hex(end - start)} bytes from there (init_size); give it at least ${mib(end)}`);
  return {
    kind: 'bzimage', start, end, entry: start + ENTRY_64_OFFSET,
    cmdlineMax: Math.min(bz.cmdlineSize, CMDLINE_MAX),
    initrdAddrMax: bz.loadableAbove4G ? Number.MAX_SAFE_INTEGER : bz.initrdAddrMax,
    setupHeader: bz.setupHeader,
    load: (m) => m.write(start, bz.kernel),
  };
}

function planElf(bytes: Uint8Array, memoryBytes: number): Plan {
  const image: ElfImage = parseElf64(bytes);
  let start = Infinity, end = 0;
  for (const s of image.segments) {
    const e = s.paddr + s.memSize;
    const range = `${hex(s.paddr)}-${hex(e)}`;
    if (s.paddr < KERNEL_MIN_GPA) throw new ElfError(`segment at ${range} overlaps the firmware's area below ${hex(KERNEL_MIN_GPA)}`);
    if (e > memoryBytes) throw new ElfError(`segment at ${range} lies outside guest memory (${memoryBytes} bytes)`);
    start = Math.min(start, s.paddr);
    end = Math.max(end, e);
  }
  return {
    kind: 'elf', start, end, entry: image.physicalEntry,
    cmdlineMax: Math.min(VMLINUX_CMDLINE_MAX, CMDLINE_MAX),
    initrdAddrMax: VMLINUX_INITRD_ADDR_MAX,
    load: (m) => {
      for (const s of image.segments) {
        m.write(s.paddr, bytes.subarray(s.offset, s.offset + s.fileSize));
        if (s.memSize > s.fileSize) m.write(s.paddr + s.fileSize, new Uint8Array(s.memSize - s.fileSize));
      }
    },
  };
}

function encodeCmdline(cmdline: string, max: number): Uint8Array {
  for (let i = 0; i < cmdline.length; i++) {
    const c = cmdline.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new BootError(`kernel command line has a character that is not printable ASCII at position ${i}`);
  }
  if (cmdline.length > max) throw new BootError(`kernel command line is ${cmdline.length} bytes; this kernel accepts at most ${max}`);
  const out = new Uint8Array(cmdline.length + 1);
  for (let i = 0; i < cmdline.length; i++) out[i] = cmdline.charCodeAt(i);
  return out;
}

/** Check, load and describe the entry of a kernel (bzImage or ELF). */
export function bootKernel(bytes: Uint8Array, memory: GuestMemoryWriter, opts: DirectBootOptions): DirectBoot {
  const memoryBytes = memory.byteLength;
  if (memoryBytes < MIN_GUEST_MEMORY) throw new BootError(`guest memory of ${memoryBytes} bytes is below the ${MIN_GUEST_MEMORY} byte minimum`);
  if (memoryBytes > MMIO_HOLE_START) throw new BootError(`guest memory of ${mib(memoryBytes)} reaches the MMIO hole at ${hex(MMIO_HOLE_START)}`);
  if (bytes.length === 0) throw new BootError('kernel file is empty');
  const isElf = bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!isElf && !looksLikeBzImage(bytes)) throw new BootError('not a kernel: not an ELF file (bad magic) and not a Linux bzImage (no "HdrS" signature at 0x202)');
  const plan = isElf ? planElf(bytes, memoryBytes) : planBzImage(bytes, memoryBytes);
  const cmdline = opts.cmdline ?? '';
  const cmdlineBytes = encodeCmdline(cmdline, plan.cmdlineMax);

  let initrd: { gpa: number; size: number } | null = null;
  if (opts.initrd !== undefined) {
    const size = opts.initrd.length;
    if (size === 0) throw new BootError('initrd is empty');
    // As high as possible: below the end of RAM and the kernel's initrd_addr_max, page-aligned, clear of the kernel.
    const ceiling = Math.min(memoryBytes, plan.initrdAddrMax + 1);
    const gpa = Math.floor((ceiling - size) / PAGE) * PAGE;
    if (gpa < plan.end) {
      throw new BootError(`initrd of ${size} bytes does not fit in memory: the kernel needs up to ${hex(plan.end)} and the initrd must end below ${hex(ceiling)}; give the VM at least ${mib(plan.end + Math.ceil(size / PAGE) * PAGE)}`);
    }
    initrd = { gpa, size };
  }

  const acpi = buildAcpiTables(opts.acpi);
  const e820 = buildE820(memoryBytes);
  const zeroPage = buildBootParams({
    setupHeader: plan.setupHeader, loadAddress: plan.start, cmdlineGpa: CMDLINE_GPA, initrd: initrd ?? undefined,
    e820, rsdpGpa: acpi.rsdpGpa,
  });

  plan.load(memory);
  if (initrd !== null && opts.initrd !== undefined) memory.write(initrd.gpa, opts.initrd);
  writeBootStructures(memory);
  memory.write(CMDLINE_GPA, cmdlineBytes);
  for (const t of acpi.tables) memory.write(t.gpa, t.bytes);
  memory.write(BOOT_PARAMS_GPA, zeroPage);
  return {
    kind: plan.kind,
    entry: entryState(plan.entry, BOOT_PARAMS_GPA),
    kernel: { start: plan.start, end: plan.end },
    initrd, cmdline, bootParamsGpa: BOOT_PARAMS_GPA, rsdpGpa: acpi.rsdpGpa, e820, acpiTables: acpi.tables,
  };
}
