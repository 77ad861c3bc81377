// TLFS register names (hv_register_name, HV_X64_REGISTER_*) for the x64 registers the VP engine implements,
// and how each maps onto the engine. Numbers from Linux include/hyperv/hvgdk_mini.h.
import type { RegisterName } from '../../vp/index.js';

export type SegmentName = 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'tr' | 'ldtr';

export const HvRegister = {
  Rax: 0x00020000, Rcx: 0x00020001, Rdx: 0x00020002, Rbx: 0x00020003,
  Rsp: 0x00020004, Rbp: 0x00020005, Rsi: 0x00020006, Rdi: 0x00020007,
  R8: 0x00020008, R9: 0x00020009, R10: 0x0002000a, R11: 0x0002000b,
  R12: 0x0002000c, R13: 0x0002000d, R14: 0x0002000e, R15: 0x0002000f,
  Rip: 0x00020010, Rflags: 0x00020011,
  Cr0: 0x00040000, Cr2: 0x00040001, Cr3: 0x00040002, Cr4: 0x00040003, Cr8: 0x00040004,
  Es: 0x00060000, Cs: 0x00060001, Ss: 0x00060002, Ds: 0x00060003, Fs: 0x00060004, Gs: 0x00060005,
  Ldtr: 0x00060006, Tr: 0x00060007,
  Idtr: 0x00070000, Gdtr: 0x00070001,
  Efer: 0x00080001, KernelGsBase: 0x00080002, ApicBase: 0x00080003, Pat: 0x00080004,
  Star: 0x00080008, Lstar: 0x00080009, Cstar: 0x0008000a, Sfmask: 0x0008000b,
  TscAux: 0x0008007b,
  // The partition's guest crash registers (crash-msrs.ts): the root reads what the guest reported.
  GuestCrashP0: 0x00000210, GuestCrashP1: 0x00000211, GuestCrashP2: 0x00000212, GuestCrashP3: 0x00000213,
  GuestCrashP4: 0x00000214, GuestCrashCtl: 0x00000215,
  /** The VP's reference time (HV_X64_MSR_TIME_REF_COUNT's value, 100 ns units of virtual time); the root may only move it forward. */
  TimeRefCount: 0x00090004,
} as const;

/** What a register name refers to in the engine. */
export type RegisterTarget =
  | { kind: 'scalar'; name: RegisterName }
  | { kind: 'segment'; name: SegmentName }
  | { kind: 'table'; base: RegisterName; limit: RegisterName }
  /** A guest crash register: parameter 0..4, or 5 for the control register. */
  | { kind: 'crash'; index: number }
  /** The VP's reference counter: what the root paces virtual time and time sync against (forward-only writes). */
  | { kind: 'time-ref' };

const TARGETS = new Map<number, RegisterTarget>();
const scalar = (code: number, name: RegisterName): void => { TARGETS.set(code, { kind: 'scalar', name }); };
const GPRS: RegisterName[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
GPRS.forEach((n, i) => scalar(0x00020000 + i, n));
scalar(HvRegister.Rip, 'rip');
scalar(HvRegister.Rflags, 'rflags');
scalar(HvRegister.Cr0, 'cr0');
scalar(HvRegister.Cr2, 'cr2');
scalar(HvRegister.Cr3, 'cr3');
scalar(HvRegister.Cr4, 'cr4');
scalar(HvRegister.Cr8, 'cr8');
scalar(HvRegister.Efer, 'efer');
scalar(HvRegister.KernelGsBase, 'kernel_gs_base');
scalar(HvRegister.ApicBase, 'apic_base');
scalar(HvRegister.Pat, 'pat');
scalar(HvRegister.Star, 'star');
scalar(HvRegister.Lstar, 'lstar');
scalar(HvRegister.Cstar, 'cstar');
scalar(HvRegister.Sfmask, 'sfmask');
scalar(HvRegister.TscAux, 'tsc_aux');
(['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as SegmentName[]).forEach((n, i) => TARGETS.set(0x00060000 + i, { kind: 'segment', name: n }));
TARGETS.set(HvRegister.Idtr, { kind: 'table', base: 'idtr_base', limit: 'idtr_limit' });
TARGETS.set(HvRegister.Gdtr, { kind: 'table', base: 'gdtr_base', limit: 'gdtr_limit' });
for (let i = 0; i <= 5; i++) TARGETS.set(HvRegister.GuestCrashP0 + i, { kind: 'crash', index: i });
TARGETS.set(HvRegister.TimeRefCount, { kind: 'time-ref' });

/** The engine register behind a TLFS register name, or undefined for names this hypervisor does not implement. */
export function registerTarget(code: number): RegisterTarget | undefined {
  return TARGETS.get(code);
}
