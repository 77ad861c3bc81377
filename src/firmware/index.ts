// Firmware: direct boot of 64-bit ELF kernels.
export { parseElf64, ElfError, PT_LOAD, PF_X, PF_W, PF_R, type ElfImage, type ElfSegment } from './elf64.js';
export { bootElf64, checkPlacement, writeBootStructures, entryState, type GuestMemoryWriter, type LongModeEntryState } from './long-mode-entry.js';
export * from './boot-layout.js';
