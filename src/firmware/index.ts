// Firmware: direct boot of Linux (bzImage or ELF vmlinux) and of freestanding 64-bit ELF guests, with the
// e820 map, boot_params and the ACPI tables.
export { BootError } from './boot-error.js';
export { parseElf64, ElfError, PT_LOAD, PF_X, PF_W, PF_R, type ElfImage, type ElfSegment } from './elf64.js';
export { parseBzImage, looksLikeBzImage, MIN_PROTOCOL, ENTRY_64_OFFSET, type BzImage } from './bzimage.js';
export { buildBootParams, BP, HDR, HDRS_MAGIC, BOOT_PARAMS_SIZE, LOADER_UNDEFINED, VID_MODE_NORMAL, XLF_KERNEL_64, LOADED_HIGH, type BootParamsInput } from './boot-params.js';
export { buildE820, encodeE820, E820_RAM, E820_RESERVED, E820_ACPI, E820_ENTRY_SIZE, E820_MAX_ENTRIES, type E820Entry } from './e820.js';
export { writeBootStructures, entryState, type GuestMemoryWriter, type LongModeEntryState } from './long-mode-entry.js';
export { bootKernel, type DirectBoot, type DirectBootOptions } from './direct-boot.js';
export * from './boot-layout.js';
export * as acpi from './acpi/index.js';
export { defaultAcpiPlatform, type AcpiPlatform } from './acpi/index.js';
