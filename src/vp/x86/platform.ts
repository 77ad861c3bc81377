// What the software processor needs from the layer that owns it (the hypervisor): the partition's second-level
// address translation (GPA page -> SPA page, with rights), and exits for everything it cannot do alone.
// Defined here, below the hypervisor, so the processor never imports hypervisor code (dependency direction).

/** Rights bits of a GPA page in the second-level map. */
export const GPA_READ = 1;
export const GPA_WRITE = 2;
export const GPA_EXEC = 4;

export interface SecondLevelMap {
  /** For each GPA page: the SPA page number it maps to, or -1 when unmapped. */
  readonly spaPage: Int32Array;
  /** For each GPA page: GPA_READ | GPA_WRITE | GPA_EXEC. */
  readonly rights: Uint8Array;
}

/** Why `run` returned. */
export const EXIT_BUDGET = 0; // instruction budget used up
export const EXIT_HLT = 1; // HLT executed with nothing to wake the VP
export const EXIT_STOP = 2; // the platform asked the VP to stop (power-off, intercept needing the root, ...)
export const EXIT_TRIPLE_FAULT = 3; // shutdown: the partition must be reset or torn down
export const EXIT_INTERRUPT_WINDOW = 4;

export interface VpPlatform {
  /** Port I/O (IN/OUT and string forms). Sizes 1, 2, 4. */
  ioRead(port: number, size: number): number;
  ioWrite(port: number, size: number, value: number): void;
  /** Accesses to GPAs that are not mapped RAM (or not mapped with the needed right). Sizes 1, 2, 4. */
  mmioRead(gpa: number, size: number): number;
  mmioWrite(gpa: number, size: number, value: number): void;
  /**
   * MSRs the processor does not implement itself. Return true and set `out[0]`/`out[1]` (lo, hi) when
   * handled; false raises #GP in the guest.
   */
  rdmsr(msr: number, out: Int32Array): boolean;
  wrmsr(msr: number, lo: number, hi: number): boolean;
  /** The guest's time-stamp counter before the per-VP offset, as (lo, hi) in out. */
  readTsc(out: Int32Array): void;
  /** A hypercall instruction (VMCALL) was executed; the platform reads and writes registers itself. */
  hypercall(): void;
  /** The highest-priority deliverable external interrupt vector, or -1. Called only when IF=1 and no shadow. */
  acknowledgeInterrupt(): number;
}

/** One CPUID leaf result. */
export interface CpuidResult {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** A CPUID table set per partition by the hypervisor: key is `leaf` or `leaf:subleaf` (hex, lower case). */
export type CpuidTable = Map<string, CpuidResult>;
