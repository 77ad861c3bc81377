// Public face of the software x86-64 virtual processor.
export { X86Engine } from './engine.js';
export { X86Cpu } from './cpu.js';
export * from './platform.js';
export { softwareCpuidProfile, PHYS_ADDR_BITS, VIRT_ADDR_BITS } from './cpuid-profile.js';
export * as x86 from './constants.js';
