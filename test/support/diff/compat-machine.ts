// The processor set up like a 64-bit Linux process running 32-bit code, for differential tests in compatibility
// mode: long mode with the x86-64 Linux GDT layout (selectors 0x23 = 32-bit user code, 0x2b = user data,
// 0x33 = 64-bit user code, 0x10 = kernel code), CPL 3 in the 32-bit code segment, user-accessible identity
// mapping of the code and data areas, and an IDT whose gates lead (on IST1) to one HLT per vector, so software
// interrupts (INT3, INTO, ICEBP) are delivered through the architecture and the harness reads the frame the
// processor pushed. Faults are recorded by the harness directly (cpu.handleFault), as in 64-bit mode.
import { BareMachine, PD, PDPT, PML4 } from '../bare-machine.js';

export const USER32_CS = 0x23;
export const USER_DS = 0x2b;
export const USER64_CS = 0x33;
export const KERNEL_CS = 0x10;

export const ATTR_CODE32_USER = 0xc0fb; // G, D, P, DPL 3, code, readable, accessed
export const ATTR_DATA_USER = 0xc0f3;

const GDT = 0x500;
const GDT_LIMIT = 0x7f; // 16 entries, as Linux's GDT
const PT0 = 0x9000; // 4 KiB pages for the first 2 MiB: the low MiB supervisor-only, the code MiB user
const IDT = 0x6000;
const TSS = 0x8000;
const IST1_TOP = 0xb000;
/** Linear alias of the data area's first page below 64 KiB (16-bit addressing), and that page. */
export const LOW_ALIAS = 0xc000;
const DATA_PAGE = 0x200000;
const NX = 1n << 63n;
/** Vector v's handler is a HLT at STUBS + v (its RIP after the HLT is STUBS + v + 1). */
export const STUBS = 0x7000;
/** The frame an interrupt pushes on IST1: RIP, CS, RFLAGS, RSP, SS (no error code for software interrupts). */
export const FRAME = IST1_TOP - 40;

function desc(base: number, limit: number, access: number, flags: number): bigint {
  const b = BigInt(base), l = BigInt(limit);
  return (l & 0xffffn) | ((b & 0xffffffn) << 16n) | (BigInt(access) << 40n) | (((l >> 16n) & 0xfn) << 48n)
    | (BigInt(flags) << 52n) | (((b >> 24n) & 0xffn) << 56n);
}

/** A BareMachine reconfigured as above (call once; the harness resets CS/SS/DS/ES per case with enterUser32). */
export function compatMachine(): BareMachine {
  const m = new BareMachine();
  const dv = m.dv;
  const e = m.engine;
  // Page tables: user bits on every level; 0-1 MiB (the tables, IDT, TSS, stubs) stays supervisor-only.
  dv.setBigUint64(PML4, BigInt(PDPT | 7), true);
  dv.setBigUint64(PDPT, BigInt(PD | 7), true);
  dv.setBigUint64(PD, BigInt(PT0 | 7), true);
  for (let k = 1; k < 512; k++) dv.setBigUint64(PD + k * 8, BigInt(k) * 0x200000n | 0x87n, true);
  // Data is not executable, as in the native runner (a stray jump into it faults in both worlds).
  dv.setBigUint64(PD + 8, BigInt(DATA_PAGE) | 0x87n | NX, true);
  for (let k = 0; k < 512; k++) dv.setBigUint64(PT0 + k * 8, BigInt(k * 4096) | (k < 256 ? 3n : 7n), true);
  // The first data page again at LOW_ALIAS, where 16-bit addresses reach (as the native runner maps it).
  dv.setBigUint64(PT0 + (LOW_ALIAS >> 12) * 8, BigInt(DATA_PAGE | 7) | NX, true);
  // GDT as x86-64 Linux lays it out (arch/x86/include/asm/segment.h): the selectors a snippet may load or push
  // behave identically in both worlds.
  for (let k = 0; k < 16; k++) dv.setBigUint64(GDT + 8 * k, 0n, true);
  dv.setBigUint64(GDT + 0x08, desc(0, 0xfffff, 0x9b, 0xc), true); // kernel 32-bit code
  dv.setBigUint64(GDT + 0x10, desc(0, 0xfffff, 0x9b, 0xa), true); // kernel code (64-bit)
  dv.setBigUint64(GDT + 0x18, desc(0, 0xfffff, 0x93, 0xc), true); // kernel data
  dv.setBigUint64(GDT + 0x20, desc(0, 0xfffff, 0xfb, 0xc), true); // user 32-bit code
  dv.setBigUint64(GDT + 0x28, desc(0, 0xfffff, 0xf3, 0xc), true); // user data
  dv.setBigUint64(GDT + 0x30, desc(0, 0xfffff, 0xfb, 0xa), true); // user code (64-bit)
  dv.setBigUint64(GDT + 0x40, desc(TSS, 0x67, 0x8b, 0), true); // busy 64-bit TSS (upper half 0)
  e.setRegister('gdtr_limit', BigInt(GDT_LIMIT));
  // TSS: IST1 for every gate, so frames land outside the compared data window.
  dv.setBigUint64(TSS + 0x24, BigInt(IST1_TOP), true);
  e.setSegment('tr', { selector: 0x40, base: BigInt(TSS), limit: 0x67, attributes: 0x8b });
  // IDT: 64-bit interrupt gates to the HLT stubs. As in Linux, only #BP and #OF may be raised by software from
  // CPL 3 (INT3, INTO); INT n for other vectors takes #GP(n*8+2). ICEBP is not subject to the DPL check.
  for (let v = 0; v < 256; v++) {
    const off = STUBS + v;
    const dpl = v === 3 || v === 4 ? 3 : 0;
    const lo = BigInt(off & 0xffff) | (BigInt(KERNEL_CS) << 16n) | (1n << 32n) /* IST1 */ | (BigInt(0x8e | (dpl << 5)) << 40n)
      | (BigInt(off >>> 16) << 48n);
    dv.setBigUint64(IDT + 16 * v, lo, true);
    dv.setBigUint64(IDT + 16 * v + 8, 0n, true);
    m.u8[STUBS + v] = 0xf4;
  }
  e.setRegister('idtr_base', BigInt(IDT));
  e.setRegister('idtr_limit', 0xfffn);
  e.flushTlb();
  enterUser32(m);
  return m;
}

/** Put the processor in the 32-bit user code segment at CPL 3 with flat user data segments. */
export function enterUser32(m: BareMachine): void {
  const e = m.engine;
  e.setSegment('cs', { selector: USER32_CS, base: 0n, limit: 0xffffffff, attributes: ATTR_CODE32_USER });
  for (const s of ['ss', 'ds', 'es'] as const) e.setSegment(s, { selector: USER_DS, base: 0n, limit: 0xffffffff, attributes: ATTR_DATA_USER });
  for (const s of ['fs', 'gs'] as const) e.setSegment(s, { selector: 0, base: 0n, limit: 0, attributes: 0 });
}
