// The CPUID values the software processor can honour: every bit reported here is a promise (the Linux kernel
// and glibc pick code paths from them), so only what the interpreter implements and the differential tests
// cover is set. The hypervisor gives each new partition this table; the root may replace leaves.
import type { CpuidResult, CpuidTable } from './platform.js';

function ascii4(s: string): number {
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) | 0;
}

// CPUID.1:EDX
const FPU = 1 << 0, PSE = 1 << 3, TSC = 1 << 4, MSR = 1 << 5, PAE = 1 << 6, CX8 = 1 << 8, PGE = 1 << 13;
const CMOV = 1 << 15, PAT = 1 << 16, CLFSH = 1 << 19, MMX = 1 << 23, FXSR = 1 << 24, SSE = 1 << 25, SSE2 = 1 << 26;
// CPUID.1:ECX (bit 31, "hypervisor present", is the hypervisor's to add: src/hv/enlightenments)
const CX16 = 1 << 13;
// The local APIC the hypervisor virtualizes (src/hv/apic): xAPIC page, x2APIC MSRs, TSC-deadline timer.
const APIC = 1 << 9, X2APIC = 1 << 21, TSC_DEADLINE = 1 << 24;
// CPUID.80000001:EDX / ECX
const SYSCALL = 1 << 11, NX = 1 << 20, PAGE1GB = 1 << 26, RDTSCP = 1 << 27, LM = 1 << 29;
const LAHF_LM = 1 << 0;
// CPUID.7.0:EDX
const ARCH_CAPABILITIES = 1 << 29;

/** Physical/virtual address widths reported in leaf 0x80000008 (the page walker honours MAXPHYADDR). */
export const PHYS_ADDR_BITS = 39;
export const VIRT_ADDR_BITS = 48;

export function softwareCpuidProfile(): CpuidTable {
  const t: CpuidTable = new Map<string, CpuidResult>();
  const set = (k: string, eax: number, ebx: number, ecx: number, edx: number): void => {
    t.set(k, { eax: eax | 0, ebx: ebx | 0, ecx: ecx | 0, edx: edx | 0 });
  };
  set('0', 0x7, ascii4('Genu'), ascii4('ntel'), ascii4('ineI'));
  // Family 6 model 0x3A stepping 9; EBX: CLFLUSH line 8 qwords, 1 logical processor (APIC id patched per VP).
  set('1', 0x000306a9, 0x00010800, CX16 | X2APIC | TSC_DEADLINE,
    FPU | PSE | TSC | MSR | PAE | CX8 | APIC | PGE | CMOV | PAT | CLFSH | MMX | FXSR | SSE | SSE2);
  // No FSGSBASE, BMI, AVX2, SMEP, SMAP, ...; EDX[29]: IA32_ARCH_CAPABILITIES exists (see ops/system.ts).
  set('7:0', 0, 0, 0, ARCH_CAPABILITIES);
  set('80000000', 0x80000008, 0, 0, 0);
  set('80000001', 0, 0, LAHF_LM, SYSCALL | NX | PAGE1GB | RDTSCP | LM);
  const brand = 'Hypatia x86-64 software VP'.padEnd(48, '\0');
  for (let leaf = 0; leaf < 3; leaf++) {
    const w = [0, 1, 2, 3].map((k) => ascii4(brand.slice(leaf * 16 + k * 4, leaf * 16 + k * 4 + 4)));
    set((0x80000002 + leaf).toString(16), w[0], w[1], w[2], w[3]);
  }
  set('80000008', (VIRT_ADDR_BITS << 8) | PHYS_ADDR_BITS, 0, 0, 0);
  return t;
}
