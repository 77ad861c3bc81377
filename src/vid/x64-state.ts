// A VP's architectural starting state as loaders describe it, and its translation to TLFS register names.
import { HvRegister, type RegisterValue } from '../winhv/index.js';

export interface X64Segment { selector: number; base: bigint; limit: number; attributes: number }
export interface X64Table { base: bigint; limit: number }

export interface X64InitialState {
  rip: bigint;
  rsp: bigint;
  rflags: bigint;
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  gdtr: X64Table;
  idtr: X64Table;
  cs: X64Segment;
  ds: X64Segment;
  es: X64Segment;
  fs: X64Segment;
  gs: X64Segment;
  ss: X64Segment;
  /** Extra general registers (boot protocols pass arguments in them). */
  gprs?: Partial<Record<'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rbp', bigint>>;
}

const GPR_CODES: Record<string, number> = {
  rax: HvRegister.Rax, rbx: HvRegister.Rbx, rcx: HvRegister.Rcx, rdx: HvRegister.Rdx,
  rsi: HvRegister.Rsi, rdi: HvRegister.Rdi, rbp: HvRegister.Rbp,
};

/** Register list in an order the processor accepts: paging controls before segments, RIP last. */
export function initialStateRegisters(s: X64InitialState): [number, RegisterValue][] {
  const list: [number, RegisterValue][] = [
    [HvRegister.Cr4, s.cr4],
    [HvRegister.Efer, s.efer],
    [HvRegister.Cr3, s.cr3],
    [HvRegister.Cr0, s.cr0],
    [HvRegister.Gdtr, s.gdtr],
    [HvRegister.Idtr, s.idtr],
    [HvRegister.Cs, s.cs],
    [HvRegister.Ds, s.ds],
    [HvRegister.Es, s.es],
    [HvRegister.Fs, s.fs],
    [HvRegister.Gs, s.gs],
    [HvRegister.Ss, s.ss],
    [HvRegister.Rsp, s.rsp],
    [HvRegister.Rflags, s.rflags],
  ];
  for (const [k, v] of Object.entries(s.gprs ?? {})) if (v !== undefined) list.push([GPR_CODES[k], v]);
  list.push([HvRegister.Rip, s.rip]);
  return list;
}
