// A processor on bare memory for unit and differential tests: identity-mapped first 1 GiB with 2 MiB pages,
// flat 64-bit GDT, CPL 0, interrupts off. No hypervisor in between, so processor tests stay independent of it.
import { X86Engine, type VpPlatform, type SecondLevelMap, type CpuidTable } from '../../src/vp/index.js';

export const PML4 = 0x1000;
export const PDPT = 0x2000;
export const PD = 0x3000; // 512 x 2 MiB
export const GDT = 0x500;
export const CODE = 0x100000;
export const STACK_TOP = 0x80000;

export class RecordingPlatform implements VpPlatform {
  readonly out: number[] = [];
  readonly mmio: { gpa: number; size: number; value?: number }[] = [];
  tsc = 0;
  ioRead(port: number, size: number): number { void port; void size; return -1; }
  ioWrite(port: number, _size: number, value: number): void { if (port === 0x3f8 || port === 0xe9) this.out.push(value & 0xff); }
  mmioRead(gpa: number, size: number): number { this.mmio.push({ gpa, size }); return -1; }
  mmioWrite(gpa: number, size: number, value: number): void { this.mmio.push({ gpa, size, value }); }
  rdmsr(): boolean { return false; }
  wrmsr(): boolean { return false; }
  readTsc(out: Int32Array): void { this.tsc += 1000; out[0] = this.tsc; out[1] = 0; }
  hypercall(): void { /* none */ }
  acknowledgeInterrupt(): number { return -1; }
}

export class BareMachine {
  readonly memory: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly engine: X86Engine;
  readonly platform: RecordingPlatform;
  readonly slat: SecondLevelMap;

  constructor(memBytes = 64 << 20, cpuid: CpuidTable = new Map()) {
    // RAM pages first, then one page for the VP's state block.
    const pages = memBytes / 4096;
    this.memory = new ArrayBuffer(memBytes + 4096);
    this.u8 = new Uint8Array(this.memory);
    this.dv = new DataView(this.memory);
    const spaPage = new Int32Array(pages);
    for (let p = 0; p < pages; p++) spaPage[p] = p;
    this.slat = { spaPage, rights: new Uint8Array(pages).fill(7) };
    this.platform = new RecordingPlatform();
    this.engine = new X86Engine(this.memory, memBytes, this.slat, this.platform, cpuid);
    this.setupLongMode();
  }

  private setupLongMode(): void {
    const dv = this.dv;
    dv.setBigUint64(PML4, BigInt(PDPT | 3), true);
    dv.setBigUint64(PDPT, BigInt(PD | 3), true);
    for (let k = 0; k < 512; k++) dv.setBigUint64(PD + k * 8, BigInt(k) * 0x200000n | 0x83n, true);
    // GDT: null, kernel code 0x08 (64-bit), kernel data 0x10, user data 0x1b (0x18|3), user code 0x23 (0x20|3)
    dv.setBigUint64(GDT + 0x08, 0x00af9b000000ffffn, true);
    dv.setBigUint64(GDT + 0x10, 0x00cf93000000ffffn, true);
    dv.setBigUint64(GDT + 0x18, 0x00cff3000000ffffn, true);
    dv.setBigUint64(GDT + 0x20, 0x00affb000000ffffn, true);
    const e = this.engine;
    e.setRegister('gdtr_base', BigInt(GDT));
    e.setRegister('gdtr_limit', 0x2fn);
    e.setRegister('cr3', BigInt(PML4));
    e.setRegister('cr4', 0x20n | 0x200n); // PAE, OSFXSR
    e.setRegister('efer', 0x500n | 0x800n | 1n); // LME, LMA, NXE, SCE
    e.setRegister('cr0', 0x80050033n); // PG, AM, WP, NE, ET, MP, PE
    e.setSegment('cs', { selector: 0x08, base: 0n, limit: 0xffffffff, attributes: 0xa09b });
    for (const s of ['ds', 'es', 'ss', 'fs', 'gs'] as const) e.setSegment(s, { selector: 0x10, base: 0n, limit: 0xffffffff, attributes: 0xc093 });
    e.setRegister('rsp', BigInt(STACK_TOP));
    e.setRegister('rip', BigInt(CODE));
  }

  load(addr: number, bytes: Uint8Array | number[]): void {
    this.u8.set(bytes, addr);
    for (let p = Math.floor(addr / 4096); p <= Math.floor((addr + bytes.length) / 4096); p++) this.engine.invalidateCode(p);
  }

  /** Run until HLT or the budget runs out; returns the exit reason. */
  run(budget = 1_000_000): number {
    return this.engine.run(budget);
  }

  reg(name: Parameters<X86Engine['getRegister']>[0]): bigint {
    return this.engine.getRegister(name);
  }
}
