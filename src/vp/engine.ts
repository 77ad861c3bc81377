// The virtual-processor engine interface. The hypervisor drives VPs only through it, so the software x86-64
// interpreter (src/vp/x86) and a later hardware-assisted engine (KVM) are interchangeable.

/** Register names as in the TLFS (HV_X64_REGISTER_*), the vocabulary of HvGetVpRegisters/HvSetVpRegisters. */
export const REGISTER_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
  'rip', 'rflags', 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer',
  'cs', 'ss', 'ds', 'es', 'fs', 'gs', 'fs_base', 'gs_base', 'kernel_gs_base',
  'gdtr_base', 'gdtr_limit', 'idtr_base', 'idtr_limit', 'tr', 'ldtr',
  'star', 'lstar', 'cstar', 'sfmask', 'pat', 'tsc_aux', 'apic_base',
] as const;
export type RegisterName = (typeof REGISTER_NAMES)[number];

/** A segment register's full hidden state. */
export interface SegmentValue {
  selector: number;
  base: bigint;
  limit: number;
  /** Descriptor attribute bits 40..47 in 0..7 and 52..55 in 12..15. */
  attributes: number;
}

export interface VpEngine {
  /** Run up to `budget` instructions; returns an EXIT_* reason (see x86/platform.ts). */
  run(budget: number): number;
  getRegister(name: RegisterName): bigint;
  setRegister(name: RegisterName, value: bigint): void;
  getSegment(name: 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'tr' | 'ldtr'): SegmentValue;
  setSegment(name: 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'tr' | 'ldtr', value: SegmentValue): void;
  /** Mark that an external interrupt may be pending (the platform's acknowledgeInterrupt tells which). */
  signalInterrupt(): void;
  /** Ask a running engine to return as soon as possible. */
  requestStop(): void;
  /** The partition's GPA map changed: drop cached translations. */
  flushTlb(): void;
  /** The root or a device wrote guest memory behind the processor's back: drop decoded code there. */
  invalidateCode(gpaPage: number): void;
  /** Instructions retired so far. */
  readonly instructionsRetired: number;
  /** A JSON-able description of the engine's state (registers, counters) for inspection. */
  inspect(): Record<string, unknown>;
}
