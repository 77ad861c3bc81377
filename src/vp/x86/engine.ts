// The software x86-64 engine behind the VpEngine interface: register access by TLFS-style names, inspection.
import { RAX, SEG_CS, SEG_DS, SEG_ES, SEG_FS, SEG_GS, SEG_SS } from './constants.js';
import { X86Cpu } from './cpu.js';
import { LZ_NONE, readFlags } from './flags.js';
import {
  S_APIC_BASE, S_CR0, S_CR2, S_CR3, S_CR4, S_CR8, S_CSTAR, S_EFER, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE,
  S_IDTR_LIMIT, S_KGS_BASE, S_LDTR_BASE, S_LDTR_LIMIT, S_LDTR_SEL, S_LSTAR, S_LZ_OP, S_PAT, S_RFLAGS, S_RIP,
  S_SEG_ATTR, S_SEG_BASE, S_SEG_LIMIT, S_SEG_SEL, S_SFMASK, S_STAR, S_TR_BASE, S_TR_LIMIT, S_TR_SEL, S_TSC_AUX,
  S_FCW, S_MXCSR,
} from './state.js';
import type { RegisterName, SegmentValue, VpEngine } from '../engine.js';
import type { CpuidTable, SecondLevelMap, VpPlatform } from './platform.js';
import './ops/index.js';

const SEGS: Record<string, number> = { es: SEG_ES, cs: SEG_CS, ss: SEG_SS, ds: SEG_DS, fs: SEG_FS, gs: SEG_GS };

/** State index of a 64-bit (lo, hi) register, or -1 for registers handled specially. */
function pairIndex(name: RegisterName): number {
  const gpr = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'].indexOf(name);
  if (gpr >= 0) return 2 * (RAX + gpr);
  switch (name) {
    case 'rip': return S_RIP;
    case 'cr2': return S_CR2;
    case 'cr3': return S_CR3;
    case 'fs_base': return S_SEG_BASE + 2 * SEG_FS;
    case 'gs_base': return S_SEG_BASE + 2 * SEG_GS;
    case 'kernel_gs_base': return S_KGS_BASE;
    case 'gdtr_base': return S_GDTR_BASE;
    case 'idtr_base': return S_IDTR_BASE;
    case 'star': return S_STAR;
    case 'lstar': return S_LSTAR;
    case 'cstar': return S_CSTAR;
    case 'pat': return S_PAT;
    case 'apic_base': return S_APIC_BASE;
  }
  return -1;
}

function single(name: RegisterName): number {
  switch (name) {
    case 'cr0': return S_CR0;
    case 'cr4': return S_CR4;
    case 'cr8': return S_CR8;
    case 'efer': return S_EFER;
    case 'gdtr_limit': return S_GDTR_LIMIT;
    case 'idtr_limit': return S_IDTR_LIMIT;
    case 'sfmask': return S_SFMASK;
    case 'tsc_aux': return S_TSC_AUX;
  }
  return -1;
}

export class X86Engine implements VpEngine {
  readonly cpu: X86Cpu;

  constructor(memory: ArrayBuffer, stateByteOffset: number, slat: SecondLevelMap, platform: VpPlatform, cpuid: CpuidTable, index = 0) {
    this.cpu = new X86Cpu(memory, stateByteOffset, slat, platform, cpuid, index);
    const s = this.cpu.s;
    s.fill(0);
    s[S_RFLAGS] = 2;
    s[S_LZ_OP] = LZ_NONE;
    s[S_CR0] = 0x60000010; // reset value: CD, NW, ET
    s[S_PAT] = 0x00070406; s[S_PAT + 1] = 0x00070406;
    s[S_FCW] = 0x37f;
    s[S_MXCSR] = 0x1f80;
    s[S_APIC_BASE] = (0xfee00000 | 0x800 | (index === 0 ? 0x100 : 0)) | 0;
  }

  run(budget: number): number {
    return this.cpu.run(budget);
  }

  get instructionsRetired(): number {
    return this.cpu.icount;
  }

  getRegister(name: RegisterName): bigint {
    const s = this.cpu.s;
    if (name === 'rflags') return BigInt(readFlags(s) >>> 0);
    if (name in SEGS) return BigInt(s[S_SEG_SEL + SEGS[name]]);
    if (name === 'tr') return BigInt(s[S_TR_SEL]);
    if (name === 'ldtr') return BigInt(s[S_LDTR_SEL]);
    const p = pairIndex(name);
    if (p >= 0) return (BigInt(s[p + 1] >>> 0) << 32n) | BigInt(s[p] >>> 0);
    const k = single(name);
    if (k >= 0) return BigInt(s[k] >>> 0);
    throw new RangeError(`unknown register ${name}`);
  }

  setRegister(name: RegisterName, value: bigint): void {
    const cpu = this.cpu, s = cpu.s;
    const lo = Number(value & 0xffffffffn) | 0, hi = Number((value >> 32n) & 0xffffffffn) | 0;
    if (name === 'rflags') { s[S_RFLAGS] = (lo & 0x3f7fd5) | 2; s[S_LZ_OP] = LZ_NONE; return; }
    if (name in SEGS || name === 'tr' || name === 'ldtr') throw new RangeError(`use setSegment for ${name}`);
    const p = pairIndex(name);
    if (p >= 0) { s[p] = lo; s[p + 1] = hi; }
    else {
      const k = single(name);
      if (k < 0) throw new RangeError(`unknown register ${name}`);
      s[k] = lo;
    }
    if (name === 'cr0' || name === 'cr3' || name === 'cr4' || name === 'efer') {
      cpu.flushTlb();
      cpu.updateMode();
    }
  }

  getSegment(name: 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'tr' | 'ldtr'): SegmentValue {
    const s = this.cpu.s;
    if (name === 'tr') return { selector: s[S_TR_SEL], base: pair(s, S_TR_BASE), limit: s[S_TR_LIMIT] >>> 0, attributes: 0x8b };
    if (name === 'ldtr') return { selector: s[S_LDTR_SEL], base: pair(s, S_LDTR_BASE), limit: s[S_LDTR_LIMIT] >>> 0, attributes: 0x82 };
    const k = SEGS[name];
    return { selector: s[S_SEG_SEL + k], base: pair(s, S_SEG_BASE + 2 * k), limit: s[S_SEG_LIMIT + k] >>> 0, attributes: s[S_SEG_ATTR + k] };
  }

  setSegment(name: 'cs' | 'ss' | 'ds' | 'es' | 'fs' | 'gs' | 'tr' | 'ldtr', v: SegmentValue): void {
    const cpu = this.cpu, s = cpu.s;
    const lo = Number(v.base & 0xffffffffn) | 0, hi = Number((v.base >> 32n) & 0xffffffffn) | 0;
    if (name === 'tr') { s[S_TR_SEL] = v.selector; s[S_TR_BASE] = lo; s[S_TR_BASE + 1] = hi; s[S_TR_LIMIT] = v.limit; return; }
    if (name === 'ldtr') { s[S_LDTR_SEL] = v.selector; s[S_LDTR_BASE] = lo; s[S_LDTR_BASE + 1] = hi; s[S_LDTR_LIMIT] = v.limit; return; }
    const k = SEGS[name];
    s[S_SEG_SEL + k] = v.selector;
    s[S_SEG_BASE + 2 * k] = lo;
    s[S_SEG_BASE + 2 * k + 1] = hi;
    s[S_SEG_LIMIT + k] = v.limit;
    s[S_SEG_ATTR + k] = v.attributes;
    if (k === SEG_CS) { cpu.setCpl((v.attributes >> 5) & 3); cpu.updateMode(); }
  }

  signalInterrupt(): void {
    this.cpu.irqPending = true;
    // End the running block (if any): the run loop looks for interrupts between blocks only.
    this.cpu.stopBlock = true;
  }

  requestStop(): void {
    this.cpu.stop();
  }

  flushTlb(): void {
    this.cpu.flushTlb();
  }

  invalidateCode(gpaPage: number): void {
    this.cpu.invalidateCodePage(gpaPage);
  }

  inspect(): Record<string, unknown> {
    const regs: Record<string, string> = {};
    for (const n of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer'] as RegisterName[]) {
      regs[n] = '0x' + this.getRegister(n).toString(16);
    }
    return { engine: 'x86-interpreter', cpl: this.cpu.cpl, mode64: this.cpu.mode64, instructions: this.cpu.icount, registers: regs, stats: { ...this.cpu.stats } };
  }
}

function pair(s: Int32Array, k: number): bigint {
  return (BigInt(s[k + 1] >>> 0) << 32n) | BigInt(s[k] >>> 0);
}
