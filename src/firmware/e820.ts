// The BIOS-style memory map (INT 15h E820) handed to Linux in boot_params: which guest-physical ranges are RAM
// the kernel may use and which it must leave alone. Entries are the boot protocol's struct boot_e820_entry
// (arch/x86/include/uapi/asm/bootparam.h): u64 addr, u64 size, u32 type, packed, 20 bytes.
import { ACPI_END, ACPI_GPA, EBDA_START, KERNEL_MIN_GPA } from './boot-layout.js';
import { BootError, hex } from './boot-error.js';

export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_ENTRY_SIZE = 20;
/** boot_params.e820_table holds at most this many (E820_MAX_ENTRIES_ZEROPAGE). */
export const E820_MAX_ENTRIES = 128;

export interface E820Entry { addr: number; size: number; type: number }

/**
 * The map for a guest whose RAM is GPA 0 .. memoryBytes: RAM below the EBDA, the legacy BIOS area reserved up to
 * 1 MiB except the ACPI tables' range (ACPI reclaimable), then RAM from 1 MiB to the end with any `reserved`
 * ranges above 1 MiB cut out of it. Sorted, non-overlapping.
 */
export function buildE820(memoryBytes: number, reserved: { addr: number; size: number }[] = []): E820Entry[] {
  if (memoryBytes < KERNEL_MIN_GPA) throw new BootError(`guest memory of ${memoryBytes} bytes is below 1 MiB: no room for a kernel`);
  const map: E820Entry[] = [
    { addr: 0, size: EBDA_START, type: E820_RAM },
    { addr: EBDA_START, size: ACPI_GPA - EBDA_START, type: E820_RESERVED },
    { addr: ACPI_GPA, size: ACPI_END - ACPI_GPA, type: E820_ACPI },
  ];
  const holes = reserved.filter((r) => r.size > 0).map((r) => ({ start: r.addr, end: r.addr + r.size })).sort((a, b) => a.start - b.start);
  let at = KERNEL_MIN_GPA;
  for (const h of holes) {
    if (h.start < KERNEL_MIN_GPA || h.end > memoryBytes || h.start < at) throw new BootError(`reserved range ${hex(h.start)}-${hex(h.end)} is outside RAM above 1 MiB or overlaps another`);
    if (h.start > at) map.push({ addr: at, size: h.start - at, type: E820_RAM });
    map.push({ addr: h.start, size: h.end - h.start, type: E820_RESERVED });
    at = h.end;
  }
  if (memoryBytes > at) map.push({ addr: at, size: memoryBytes - at, type: E820_RAM });
  if (map.length > E820_MAX_ENTRIES) throw new BootError(`memory map has ${map.length} entries; the zero page holds ${E820_MAX_ENTRIES}`);
  return map;
}

/** The map as boot_e820_entry records. */
export function encodeE820(map: E820Entry[]): Uint8Array {
  const out = new Uint8Array(map.length * E820_ENTRY_SIZE);
  const dv = new DataView(out.buffer);
  map.forEach((e, i) => {
    const o = i * E820_ENTRY_SIZE;
    dv.setBigUint64(o, BigInt(e.addr), true);
    dv.setBigUint64(o + 8, BigInt(e.size), true);
    dv.setUint32(o + 16, e.type, true);
  });
  return out;
}
