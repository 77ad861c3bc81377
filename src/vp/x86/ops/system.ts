// System instructions: HLT, CLI/STI, CPUID, RDTSC/RDTSCP, RDMSR/WRMSR, MOV CRn/DRn, LGDT/LIDT/SGDT/SIDT,
// LLDT/LTR/SLDT/STR, INVLPG, SWAPGS, SYSCALL/SYSRET, INT n/INT3/INT1, IRET, IN/OUT, CLTS, WBINVD/INVD,
// fences, CLFLUSH, UD2, VMCALL (hypercall), SMSW/LMSW. Privileged ones raise #GP(0) above CPL 0.
import {
  CR0_ET, CR0_PE, CR0_PG, CR0_TS, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, EXC_BP, EXC_DB, EXC_GP, EXC_UD,
  FLAG_IF, FLAG_IOPL, FLAG_RF, FLAG_VM, MSR_CSTAR, MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_IA32_APIC_BASE,
  MSR_IA32_MISC_ENABLE, MSR_IA32_PAT, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_EIP, MSR_IA32_SYSENTER_ESP,
  MSR_IA32_TSC, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_SFMASK, MSR_STAR, MSR_TSC_AUX, RAX, RBX, RCX, RDX, R11, SEG_CS,
  SEG_FS, SEG_GS, SEG_SS,
} from '../constants.js';
import { LZ_NONE, readFlags } from '../flags.js';
import {
  S_APIC_BASE, S_CR0, S_CR2, S_CR3, S_CR4, S_CR8, S_CSTAR, S_EFER, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE,
  S_IDTR_LIMIT, S_INT_SHADOW, S_KGS_BASE, S_LDTR_BASE, S_LDTR_LIMIT, S_LDTR_SEL, S_LSTAR, S_LZ_OP, S_MISC_ENABLE,
  S_PAT, S_RFLAGS, S_RIP, S_SEG_BASE, S_SFMASK, S_STAR, S_SYSENTER_CS, S_SYSENTER_EIP, S_SYSENTER_ESP,
  S_TR_BASE, S_TR_LIMIT, S_TR_SEL, S_TSC_AUX, S_TSC_OFFSET,
} from '../state.js';
import { MAP0F, MAP1, opUD, type Decoder } from '../decoder.js';
import { decVerrVerw } from './segment-checks.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, getReg, readRM, setReg } from '../operands.js';
import { deliverOnce, EV_EXCEPTION, EV_SOFTWARE, iret } from '../interrupts.js';
import {
  ATTR_CODE32_USER, ATTR_CODE64_KERNEL, ATTR_CODE64_USER, ATTR_DATA_KERNEL, ATTR_DATA_USER, readDescriptor,
  setSegmentCache,
} from '../segments.js';

function needCpl0(cpu: X86Cpu): void {
  if (cpu.cpl !== 0) cpu.fault(EXC_GP, 0);
}

function hlt(cpu: X86Cpu, _i: Insn): void {
  needCpl0(cpu);
  cpu.s[S_INT_SHADOW] = 0; // the STI shadow covered this HLT; the wake-up interrupt is taken right after it
  cpu.halt();
}

function iopl(cpu: X86Cpu): number {
  return (cpu.s[S_RFLAGS] & FLAG_IOPL) >> 12;
}

function cli(cpu: X86Cpu, _i: Insn): void {
  if (cpu.cpl > iopl(cpu)) cpu.fault(EXC_GP, 0);
  cpu.s[S_RFLAGS] &= ~FLAG_IF;
}

function sti(cpu: X86Cpu, _i: Insn): void {
  if (cpu.cpl > iopl(cpu)) cpu.fault(EXC_GP, 0);
  const s = cpu.s;
  if ((s[S_RFLAGS] & FLAG_IF) === 0) {
    s[S_RFLAGS] |= FLAG_IF;
    s[S_INT_SHADOW] = 1; // interrupts stay blocked until after the next instruction
    // With an interrupt waiting, stop so the run loop runs just the shadowed instruction and then delivers it.
    if (cpu.irqPending || cpu.nmiPending) cpu.stopBlock = true;
  }
}

// ---------------------------------------------------------------- CPUID, TSC

function cpuid(cpu: X86Cpu, _i: Insn): void {
  const s = cpu.s;
  const leaf = s[2 * RAX] >>> 0, sub = s[2 * RCX] >>> 0;
  const t = cpu.cpuid;
  const r = t.get(`${leaf.toString(16)}:${sub.toString(16)}`) ?? t.get(leaf.toString(16));
  let a = 0, b = 0, c = 0, d = 0;
  if (r !== undefined) { a = r.eax; b = r.ebx; c = r.ecx; d = r.edx; }
  if (leaf === 1) b = (b & 0x00ffffff) | (cpu.index << 24); // initial APIC id
  setReg(s, 4, RAX, a, 0);
  setReg(s, 4, RBX, b, 0);
  setReg(s, 4, RCX, c, 0);
  setReg(s, 4, RDX, d, 0);
}

/** Guest TSC = platform TSC + the VP's offset (WRMSR to IA32_TSC moves the offset). */
function readTsc(cpu: X86Cpu): void {
  const o = cpu.tmp64;
  cpu.platform.readTsc(o);
  const s = cpu.s;
  const t = (o[0] >>> 0) + (s[S_TSC_OFFSET] >>> 0);
  o[0] = t | 0;
  o[1] = (o[1] + s[S_TSC_OFFSET + 1] + (t > 0xffffffff ? 1 : 0)) | 0;
}

function rdtsc(cpu: X86Cpu, _i: Insn): void {
  if ((cpu.s[S_CR4] & 4) !== 0 && cpu.cpl !== 0) cpu.fault(EXC_GP, 0); // CR4.TSD
  readTsc(cpu);
  setReg(cpu.s, 4, RAX, cpu.tmp64[0], 0);
  setReg(cpu.s, 4, RDX, cpu.tmp64[1], 0);
}

function rdtscp(cpu: X86Cpu, i: Insn): void {
  rdtsc(cpu, i);
  setReg(cpu.s, 4, RCX, cpu.s[S_TSC_AUX], 0);
}

// ---------------------------------------------------------------- MSRs

const MSR_IA32_UCODE_REV = 0x8b;
const MSR_IA32_ARCH_CAPABILITIES = 0x10a;
/**
 * IA32_ARCH_CAPABILITIES: an interpreter executes nothing speculatively, so none of the transient-execution
 * vulnerabilities these bits rule out can exist here: RDCL_NO (Meltdown), SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO,
 * IF_PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO, BHI_NO, PBRSB_NO, GDS_NO, RFDS_NO; ITS_NO (bit 62).
 * Reported through CPUID.7.0:EDX[29] (cpuid-profile.ts); Linux then skips PTI and the buffer-clearing paths.
 */
const ARCH_CAPABILITIES_LO = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 13) | (1 << 14) |
  (1 << 15) | (1 << 20) | (1 << 24) | (1 << 26) | (1 << 27);
const ARCH_CAPABILITIES_HI = 1 << 30;

/** Read an MSR into tmp64; false if it does not exist (#GP). */
export function readMsr(cpu: X86Cpu, msr: number): boolean {
  const s = cpu.s, o = cpu.tmp64;
  const pair = (k: number): boolean => { o[0] = s[k]; o[1] = s[k + 1]; return true; };
  switch (msr) {
    case MSR_EFER: o[0] = s[S_EFER]; o[1] = 0; return true;
    case MSR_STAR: return pair(S_STAR);
    case MSR_LSTAR: return pair(S_LSTAR);
    case MSR_CSTAR: return pair(S_CSTAR);
    case MSR_SFMASK: o[0] = s[S_SFMASK]; o[1] = 0; return true;
    case MSR_FS_BASE: return pair(S_SEG_BASE + 2 * SEG_FS);
    case MSR_GS_BASE: return pair(S_SEG_BASE + 2 * SEG_GS);
    case MSR_KERNEL_GS_BASE: return pair(S_KGS_BASE);
    case MSR_IA32_PAT: return pair(S_PAT);
    case MSR_TSC_AUX: o[0] = s[S_TSC_AUX]; o[1] = 0; return true;
    case MSR_IA32_TSC: readTsc(cpu); return true;
    case MSR_IA32_SYSENTER_CS: o[0] = s[S_SYSENTER_CS]; o[1] = 0; return true;
    case MSR_IA32_SYSENTER_ESP: return pair(S_SYSENTER_ESP);
    case MSR_IA32_SYSENTER_EIP: return pair(S_SYSENTER_EIP);
    case MSR_IA32_MISC_ENABLE: o[0] = s[S_MISC_ENABLE]; o[1] = 0; return true;
    case MSR_IA32_UCODE_REV: o[0] = 0; o[1] = 0; return true; // no microcode: revision 0
    case MSR_IA32_ARCH_CAPABILITIES: o[0] = ARCH_CAPABILITIES_LO; o[1] = ARCH_CAPABILITIES_HI; return true;
    case MSR_IA32_APIC_BASE:
      if (cpu.platform.rdmsr(msr, o)) return true;
      return pair(S_APIC_BASE);
  }
  return cpu.platform.rdmsr(msr, o);
}

function canonical(hi: number): boolean {
  return ((hi << 16) >> 16) === hi;
}

/** Write an MSR; false raises #GP. */
export function writeMsr(cpu: X86Cpu, msr: number, lo: number, hi: number): boolean {
  const s = cpu.s;
  const pair = (k: number): boolean => { s[k] = lo; s[k + 1] = hi; return true; };
  switch (msr) {
    case MSR_EFER: {
      if (hi !== 0 || (lo & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) !== 0) return false;
      const old = s[S_EFER];
      // LME may not change while paging is on; LMA is read-only (it follows CR0.PG && LME).
      if ((s[S_CR0] & CR0_PG) !== 0 && ((old ^ lo) & EFER_LME) !== 0) return false;
      s[S_EFER] = (lo & ~EFER_LMA) | (old & EFER_LMA);
      if (((old ^ lo) & EFER_NXE) !== 0) cpu.flushTlb();
      return true;
    }
    case MSR_STAR: return pair(S_STAR);
    case MSR_LSTAR: if (!canonical(hi)) return false; return pair(S_LSTAR);
    case MSR_CSTAR: if (!canonical(hi)) return false; return pair(S_CSTAR);
    case MSR_SFMASK: s[S_SFMASK] = lo; return true;
    case MSR_FS_BASE: if (!canonical(hi)) return false; return pair(S_SEG_BASE + 2 * SEG_FS);
    case MSR_GS_BASE: if (!canonical(hi)) return false; return pair(S_SEG_BASE + 2 * SEG_GS);
    case MSR_KERNEL_GS_BASE: if (!canonical(hi)) return false; return pair(S_KGS_BASE);
    case MSR_IA32_PAT: {
      // Each of the 8 entries must be a valid memory type (0, 1, 4, 5, 6, 7).
      for (let k = 0; k < 8; k++) {
        const t = ((k < 4 ? lo : hi) >>> ((k & 3) * 8)) & 0xff;
        if (t === 2 || t === 3 || t > 7) return false;
      }
      return pair(S_PAT);
    }
    case MSR_TSC_AUX: s[S_TSC_AUX] = lo; return true;
    case MSR_IA32_TSC: {
      cpu.platform.readTsc(cpu.tmp64);
      const t = (lo >>> 0) - (cpu.tmp64[0] >>> 0);
      s[S_TSC_OFFSET] = t | 0;
      s[S_TSC_OFFSET + 1] = (hi - cpu.tmp64[1] - (t < 0 ? 1 : 0)) | 0;
      return true;
    }
    case MSR_IA32_SYSENTER_CS: s[S_SYSENTER_CS] = lo; return true;
    case MSR_IA32_SYSENTER_ESP: return pair(S_SYSENTER_ESP);
    case MSR_IA32_SYSENTER_EIP: return pair(S_SYSENTER_EIP);
    case MSR_IA32_MISC_ENABLE: s[S_MISC_ENABLE] = lo; return true;
    case MSR_IA32_UCODE_REV: return true; // writing 0 before CPUID refreshes the revision: nothing to do
    case MSR_IA32_APIC_BASE:
      // The platform owns the local APIC: it validates the value and the mode transition (false: #GP).
      if (!cpu.platform.wrmsr(msr, lo, hi)) return false;
      s[S_APIC_BASE] = lo; s[S_APIC_BASE + 1] = hi;
      return true;
  }
  return cpu.platform.wrmsr(msr, lo, hi);
}

function rdmsr(cpu: X86Cpu, _i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s;
  if (!readMsr(cpu, s[2 * RCX] >>> 0)) cpu.fault(EXC_GP, 0);
  setReg(s, 4, RAX, cpu.tmp64[0], 0);
  setReg(s, 4, RDX, cpu.tmp64[1], 0);
}

function wrmsr(cpu: X86Cpu, _i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s;
  if (!writeMsr(cpu, s[2 * RCX] >>> 0, s[2 * RAX], s[2 * RDX])) cpu.fault(EXC_GP, 0);
  cpu.stopBlock = true; // EFER, FS/GS bases, ... may change what later instructions see
}

// ---------------------------------------------------------------- control and debug registers

const CR4_SUPPORTED = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | CR4_PAE | 0x40 | 0x80 | 0x100 | 0x200 | 0x400;
const drs = new Float64Array(8);

function movFromCr(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s;
  let lo: number, hi = 0;
  switch (i.op) {
    case 0: lo = s[S_CR0]; break;
    case 2: lo = s[S_CR2]; hi = s[S_CR2 + 1]; break;
    case 3: lo = s[S_CR3]; hi = s[S_CR3 + 1]; break;
    case 4: lo = s[S_CR4]; break;
    default: lo = s[S_CR8]; break;
  }
  setReg(s, 8, i.rm, lo, cpu.mode64 ? hi : 0);
}

/** Apply a CR0 value with the consistency checks of the SDM (#GP for invalid combinations). */
export function writeCr0(cpu: X86Cpu, v: number): void {
  const s = cpu.s;
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) cpu.fault(EXC_GP, 0);
  if ((v & (1 << 29)) !== 0 && (v & (1 << 30)) === 0) cpu.fault(EXC_GP, 0); // NW without CD
  const old = s[S_CR0];
  if ((v & CR0_PG) !== 0 && (old & CR0_PG) === 0 && (s[S_EFER] & EFER_LME) !== 0) {
    if ((s[S_CR4] & CR4_PAE) === 0) cpu.fault(EXC_GP, 0);
    s[S_EFER] |= EFER_LMA;
  }
  if ((v & CR0_PG) === 0 && (old & CR0_PG) !== 0) {
    if (cpu.mode64) cpu.fault(EXC_GP, 0); // cannot leave long mode from 64-bit code
    s[S_EFER] &= ~EFER_LMA;
  }
  s[S_CR0] = v | CR0_ET;
  if (((old ^ v) & (CR0_PG | 0x10000 | CR0_PE)) !== 0) cpu.flushTlb();
  cpu.updateMode();
}

function movToCr(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s;
  const lo = s[2 * i.rm], hi = cpu.mode64 ? s[2 * i.rm + 1] : 0;
  switch (i.op) {
    case 0:
      if (hi !== 0) cpu.fault(EXC_GP, 0);
      writeCr0(cpu, lo);
      break;
    case 2: s[S_CR2] = lo; s[S_CR2 + 1] = hi; break;
    case 3:
      if ((hi & 0xfff00000) !== 0) cpu.fault(EXC_GP, 0); // beyond MAXPHYADDR (52) or PCID no-flush bit
      s[S_CR3] = lo; s[S_CR3 + 1] = hi;
      cpu.flushTlb();
      break;
    case 4:
      if (hi !== 0 || (lo & ~CR4_SUPPORTED) !== 0) cpu.fault(EXC_GP, 0);
      if ((s[S_EFER] & EFER_LMA) !== 0 && (lo & CR4_PAE) === 0) cpu.fault(EXC_GP, 0);
      s[S_CR4] = lo;
      cpu.flushTlb();
      break;
    default:
      if (hi !== 0 || (lo & ~15) !== 0) cpu.fault(EXC_GP, 0);
      s[S_CR8] = lo;
      cpu.irqPending = true; // CR8 is TPR[7:4]: a lower priority may let a pending interrupt through
      break;
  }
  cpu.stopBlock = true;
}

function movFromDr(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  const v = i.op === 6 ? 0xffff0ff0 : i.op === 7 ? (drs[7] | 0x400) : drs[i.op];
  setReg(cpu.s, 8, i.rm, v | 0, 0);
}

function movToDr(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  drs[i.op] = cpu.s[2 * i.rm] >>> 0; // debug registers are stored, breakpoints are not implemented
}

function clts(cpu: X86Cpu, _i: Insn): void {
  needCpl0(cpu);
  cpu.s[S_CR0] &= ~CR0_TS;
}

function smsw(cpu: X86Cpu, i: Insn): void {
  const v = cpu.s[S_CR0];
  if (i.rm >= 0) setReg(cpu.s, i.size, i.rm, v, 0);
  else { ea(cpu, i); cpu.write16(cpu.eaLo, cpu.eaHi, v); }
}

function lmsw(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  const v = readRM(cpu, i, 2);
  const old = cpu.s[S_CR0];
  // LMSW changes PE (set only), MP, EM, TS.
  writeCr0(cpu, (old & ~0xe) | (v & 0xf) | (old & CR0_PE));
  cpu.stopBlock = true;
}

// ---------------------------------------------------------------- descriptor tables

function sgdtSidt(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  const baseIdx = i.op === 0 ? S_GDTR_BASE : S_IDTR_BASE;
  const limit = i.op === 0 ? s[S_GDTR_LIMIT] : s[S_IDTR_LIMIT];
  ea(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  cpu.probeWrite(lo, hi, cpu.mode64 ? 10 : 6);
  cpu.write16(lo, hi, limit);
  const l2 = (lo + 2) | 0, h2 = (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  if (cpu.mode64) cpu.write64(l2, h2, s[baseIdx], s[baseIdx + 1]);
  else cpu.write32(l2, h2, s[baseIdx]);
}

function lgdtLidt(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s;
  ea(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  const limit = cpu.read16(lo, hi);
  const l2 = (lo + 2) | 0, h2 = (l2 >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi;
  let bLo: number, bHi = 0;
  if (cpu.mode64) { bLo = cpu.read64(l2, h2); bHi = cpu.rdHi; if (!canonical(bHi)) cpu.fault(EXC_GP, 0); }
  else { bLo = cpu.read32(l2, h2); if (i.size === 2) bLo &= 0xffffff; }
  const baseIdx = i.op === 2 ? S_GDTR_BASE : S_IDTR_BASE;
  s[baseIdx] = bLo; s[baseIdx + 1] = bHi;
  s[i.op === 2 ? S_GDTR_LIMIT : S_IDTR_LIMIT] = limit;
}

/** Read a 16-byte system descriptor's upper base (long mode) after readDescriptor checked the low 8 bytes. */
function systemDescriptorHigh(cpu: X86Cpu, sel: number): number {
  const s = cpu.s;
  const off = (sel & ~7) + 8;
  if (off + 7 > s[S_GDTR_LIMIT]) cpu.fault(EXC_GP, sel & 0xfffc);
  const bLo = s[S_GDTR_BASE], bHi = s[S_GDTR_BASE + 1];
  const lo = (bLo + off) | 0;
  return cpu.readSystem32(lo, (lo >>> 0) < (bLo >>> 0) ? (bHi + 1) | 0 : bHi);
}

function lldt(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s;
  const sel = readRM(cpu, i, 2) & 0xffff;
  if ((sel & 0xfffc) === 0) { s[S_LDTR_SEL] = sel; s[S_LDTR_BASE] = 0; s[S_LDTR_BASE + 1] = 0; s[S_LDTR_LIMIT] = 0; return; }
  if ((sel & 4) !== 0) cpu.fault(EXC_GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  if (d.s || d.type !== 2) cpu.fault(EXC_GP, sel & 0xfffc);
  if (!d.present) cpu.fault(11, sel & 0xfffc);
  const base = d.base, limit = d.limit;
  s[S_LDTR_SEL] = sel; s[S_LDTR_BASE] = base; s[S_LDTR_LIMIT] = limit;
  s[S_LDTR_BASE + 1] = cpu.mode64 || (s[S_EFER] & EFER_LMA) !== 0 ? systemDescriptorHigh(cpu, sel) : 0;
}

function ltr(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s;
  const sel = readRM(cpu, i, 2) & 0xffff;
  if ((sel & 0xfffc) === 0 || (sel & 4) !== 0) cpu.fault(EXC_GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  if (d.s || d.type !== 9) cpu.fault(EXC_GP, sel & 0xfffc); // available 64-bit TSS
  if (!d.present) cpu.fault(11, sel & 0xfffc);
  const base = d.base, limit = d.limit, w1 = d.w1;
  const hi = systemDescriptorHigh(cpu, sel);
  // Mark busy (type 0xB) in the GDT.
  const bLo = s[S_GDTR_BASE], bHi = s[S_GDTR_BASE + 1];
  const a = (bLo + (sel & ~7) + 4) | 0;
  const cpl = cpu.cpl;
  cpu.setCpl(0);
  try { cpu.write32(a, (a >>> 0) < (bLo >>> 0) ? (bHi + 1) | 0 : bHi, w1 | 0x200); } finally { cpu.setCpl(cpl); }
  s[S_TR_SEL] = sel; s[S_TR_BASE] = base; s[S_TR_BASE + 1] = hi; s[S_TR_LIMIT] = limit;
}

function sldtStr(cpu: X86Cpu, i: Insn): void {
  const v = cpu.s[i.op === 0 ? S_LDTR_SEL : S_TR_SEL];
  if (i.rm >= 0) setReg(cpu.s, i.size, i.rm, v, 0);
  else { ea(cpu, i); cpu.write16(cpu.eaLo, cpu.eaHi, v); }
}

function invlpg(cpu: X86Cpu, i: Insn): void {
  needCpl0(cpu);
  ea(cpu, i);
  cpu.flushTlbPage(cpu.eaLo, cpu.eaHi);
}

function swapgs(cpu: X86Cpu, _i: Insn): void {
  needCpl0(cpu);
  const s = cpu.s, g = S_SEG_BASE + 2 * SEG_GS;
  const lo = s[g], hi = s[g + 1];
  s[g] = s[S_KGS_BASE]; s[g + 1] = s[S_KGS_BASE + 1];
  s[S_KGS_BASE] = lo; s[S_KGS_BASE + 1] = hi;
}

// ---------------------------------------------------------------- SYSCALL / SYSRET

/** CPUID vendor "AuthenticAMD" (leaf 0 EBX "Auth"): selects the few vendor-specific behaviours below. */
function amdVendor(cpu: X86Cpu): boolean {
  const r = cpu.cpuid.get('0');
  return r !== undefined && r.ebx === 0x68747541;
}

/**
 * SYSCALL. From compatibility mode Intel raises #UD (SDM: SYSCALL requires CS.L=1) while AMD enters at CSTAR;
 * the processor follows the vendor its CPUID reports (GenuineIntel by default, where Linux uses INT 0x80 for
 * 32-bit processes).
 */
function syscall(cpu: X86Cpu, _i: Insn): void {
  const s = cpu.s;
  if ((s[S_EFER] & EFER_SCE) === 0) cpu.fault(EXC_UD);
  if (!cpu.mode64 && !amdVendor(cpu)) cpu.fault(EXC_UD);
  const target = cpu.mode64 ? S_LSTAR : S_CSTAR;
  const flags = readFlags(s);
  setReg(s, 8, RCX, cpu.nipLo, cpu.nipHi);
  setReg(s, 8, R11, flags & ~FLAG_RF, 0);
  const sel = (s[S_STAR + 1] & 0xfffc);
  setSegmentCache(cpu, SEG_CS, sel, 0, -1, ATTR_CODE64_KERNEL);
  setSegmentCache(cpu, SEG_SS, (sel + 8) & 0xffff, 0, -1, ATTR_DATA_KERNEL);
  cpu.setCpl(0);
  s[S_RFLAGS] = (flags & ~s[S_SFMASK] & ~(FLAG_RF | FLAG_VM)) | 2;
  s[S_LZ_OP] = LZ_NONE;
  cpu.updateMode();
  cpu.nipLo = s[target];
  cpu.nipHi = s[target + 1];
  cpu.stopBlock = true;
}

function sysret(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s;
  if ((s[S_EFER] & EFER_SCE) === 0) cpu.fault(EXC_UD);
  needCpl0(cpu);
  const base = (s[S_STAR + 1] >>> 16) & 0xffff;
  if (i.size === 8) {
    const hi = s[2 * RCX + 1];
    if (!canonical(hi)) cpu.fault(EXC_GP, 0);
    setSegmentCache(cpu, SEG_CS, ((base + 16) & 0xffff) | 3, 0, -1, ATTR_CODE64_USER);
    cpu.nipLo = s[2 * RCX];
    cpu.nipHi = hi;
  } else {
    setSegmentCache(cpu, SEG_CS, base | 3, 0, -1, ATTR_CODE32_USER);
    cpu.nipLo = s[2 * RCX];
    cpu.nipHi = 0;
  }
  setSegmentCache(cpu, SEG_SS, ((base + 8) & 0xffff) | 3, 0, -1, ATTR_DATA_USER);
  s[S_RFLAGS] = (s[2 * R11] & 0x3c7fd7) | 2;
  s[S_LZ_OP] = LZ_NONE;
  cpu.setCpl(3);
  cpu.updateMode();
  if (i.size !== 8) cpu.nipHi = 0;
  cpu.stopBlock = true;
}

// ---------------------------------------------------------------- software interrupts and IRET

function softInt(cpu: X86Cpu, vector: number, kind: number): void {
  const s = cpu.s;
  s[S_RIP] = cpu.nipLo;
  s[S_RIP + 1] = cpu.nipHi;
  deliverOnce(cpu, vector, -1, kind); // a fault here unwinds to the run loop with RIP at this instruction
  cpu.nipLo = s[S_RIP];
  cpu.nipHi = s[S_RIP + 1];
  cpu.stopBlock = true;
}

function intN(cpu: X86Cpu, i: Insn): void { softInt(cpu, i.immLo, EV_SOFTWARE); }
function int3(cpu: X86Cpu, _i: Insn): void { softInt(cpu, EXC_BP, EV_SOFTWARE); }
function int1(cpu: X86Cpu, _i: Insn): void { softInt(cpu, EXC_DB, EV_EXCEPTION); }

function iretOp(cpu: X86Cpu, i: Insn): void {
  iret(cpu, i.size);
  cpu.nipLo = cpu.s[S_RIP];
  cpu.nipHi = cpu.s[S_RIP + 1];
  cpu.stopBlock = true;
}

// ---------------------------------------------------------------- port I/O

function ioAllowed(cpu: X86Cpu): void {
  // No TSS I/O permission bitmap: above IOPL all port access faults.
  if (cpu.cpl > iopl(cpu)) cpu.fault(EXC_GP, 0);
}

function inOp(cpu: X86Cpu, i: Insn): void {
  ioAllowed(cpu);
  const port = i.op === 1 ? cpu.s[2 * RDX] & 0xffff : i.immLo;
  const size = i.size === 8 ? 4 : i.size;
  const v = cpu.platform.ioRead(port, size);
  setReg(cpu.s, size, RAX, v, 0);
}

function outOp(cpu: X86Cpu, i: Insn): void {
  ioAllowed(cpu);
  const port = i.op === 1 ? cpu.s[2 * RDX] & 0xffff : i.immLo;
  const size = i.size === 8 ? 4 : i.size;
  cpu.platform.ioWrite(port, size, getReg(cpu.s, size, RAX));
}

// ---------------------------------------------------------------- misc

function nopSys(_cpu: X86Cpu, _i: Insn): void {
  // WBINVD, INVD, fences, CLFLUSH: no caches to manage in a software processor
}

function privNop(cpu: X86Cpu, _i: Insn): void {
  needCpl0(cpu);
}

function clflush(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  cpu.read8(cpu.eaLo, cpu.eaHi); // faults like a byte load would
}

function hypercall(cpu: X86Cpu, _i: Insn): void {
  // TLFS "Valid Hypercall Environments": only CPL 0 in protected or long mode; elsewhere (user mode, real
  // mode, whose CPL is 0 too) VMCALL raises #UD.
  if (cpu.cpl !== 0 || (cpu.s[S_CR0] & 1) === 0) cpu.fault(EXC_UD);
  cpu.platform.hypercall();
  cpu.stopBlock = true;
}

// ---------------------------------------------------------------- decoding

function simple(h: (cpu: X86Cpu, i: Insn) => void, end = false): (d: Decoder, i: Insn) => void {
  return (d, i) => { i.exec = h; if (end) d.endBlock = true; };
}

function decMovCr(d: Decoder, i: Insn): void {
  // MOV CR/DR ignore mod: the operand is always a register. Operand size is 64 in long mode.
  const m = d.byte();
  i.op = ((m >> 3) & 7) | (d.rexR << 3);
  i.rm = (m & 7) | (d.rexB << 3);
  const isCr = i.opcode === 0x0f20 || i.opcode === 0x0f22;
  if (isCr && i.op !== 0 && i.op !== 2 && i.op !== 3 && i.op !== 4 && i.op !== 8) { i.exec = opUD; return; }
  if (!isCr && i.op > 7) { i.exec = opUD; return; }
  switch (i.opcode) {
    case 0x0f20: i.exec = movFromCr; break;
    case 0x0f22: i.exec = movToCr; d.endBlock = true; break;
    case 0x0f21: i.exec = movFromDr; break;
    default: i.exec = movToDr; break;
  }
}

function decGroup7(d: Decoder, i: Insn): void {
  const m = d.modrm(i);
  const op = i.reg & 7;
  i.op = op;
  if (i.rm >= 0 || (m >> 6) === 3) {
    switch (m) {
      case 0xf8: i.exec = d.mode64 ? swapgs : opUD; return;
      case 0xf9: i.exec = rdtscp; return;
      case 0xc1: case 0xd9: i.exec = hypercall; d.endBlock = true; return; // VMCALL (Intel) / VMMCALL (AMD)
    }
    if (op === 4) { i.exec = smsw; return; }
    if (op === 6) { i.exec = lmsw; d.endBlock = true; return; }
    i.exec = opUD;
    return;
  }
  switch (op) {
    case 0: case 1: i.exec = sgdtSidt; return;
    case 2: case 3: i.exec = lgdtLidt; d.endBlock = true; return;
    case 4: i.exec = smsw; return;
    case 6: i.exec = lmsw; d.endBlock = true; return;
    case 7: i.exec = invlpg; d.endBlock = true; return;
    default: i.exec = opUD; return;
  }
}

function decGroup6(d: Decoder, i: Insn): void {
  d.modrm(i);
  const op = i.reg & 7;
  i.op = op;
  switch (op) {
    case 0: case 1: i.exec = sldtStr; return;
    case 2: i.exec = lldt; d.endBlock = true; return;
    case 3: i.exec = ltr; d.endBlock = true; return;
    case 4: case 5: decVerrVerw(d, i); return;
    default: i.exec = opUD; return;
  }
}

/** 0F AE: fences (mod 3) and CLFLUSH (/7 memory). FXSAVE/FXRSTOR/LDMXCSR/STMXCSR are in the SSE group. */
export const group15Memory: ((d: Decoder, i: Insn) => void)[] = [];

function decGroup15(d: Decoder, i: Insn): void {
  const m = d.modrm(i);
  const op = i.reg & 7;
  if ((m >> 6) === 3) {
    i.exec = op >= 5 ? nopSys : opUD; // LFENCE, MFENCE, SFENCE
    return;
  }
  if (op === 7) { i.exec = clflush; return; }
  const f = group15Memory[op];
  if (f !== undefined) f(d, i);
  else i.exec = opUD;
}

function decInOut(d: Decoder, i: Insn): void {
  const op = i.opcode;
  if ((op & 1) === 0) i.size = 1;
  else if (i.size === 8) i.size = 4;
  if (op < 0xec) { i.immLo = d.byte(); i.op = 0; } else i.op = 1;
  i.exec = (op & 2) === 0 ? inOp : outOp;
}

function decInt(d: Decoder, i: Insn): void {
  i.immLo = d.byte();
  i.exec = intN;
  d.endBlock = true;
}

function decIret(d: Decoder, i: Insn): void {
  i.exec = iretOp;
  d.endBlock = true;
}

function decSysret(d: Decoder, i: Insn): void {
  i.exec = sysret;
  d.endBlock = true;
}

MAP1[0xf4] = simple(hlt, true);
MAP1[0xfa] = simple(cli);
MAP1[0xfb] = simple(sti, true);
MAP1[0xcc] = simple(int3, true);
MAP1[0xcd] = decInt;
MAP1[0xf1] = simple(int1, true);
MAP1[0xcf] = decIret;
for (const op of [0xe4, 0xe5, 0xe6, 0xe7, 0xec, 0xed, 0xee, 0xef]) MAP1[op] = decInOut;
MAP0F[0xa2] = simple(cpuid);
MAP0F[0x31] = simple(rdtsc);
MAP0F[0x32] = simple(rdmsr);
MAP0F[0x30] = simple(wrmsr, true);
MAP0F[0x20] = decMovCr;
MAP0F[0x22] = decMovCr;
MAP0F[0x21] = decMovCr;
MAP0F[0x23] = decMovCr;
MAP0F[0x01] = decGroup7;
MAP0F[0x00] = decGroup6;
MAP0F[0x05] = simple(syscall, true);
MAP0F[0x07] = decSysret;
MAP0F[0x06] = simple(clts);
MAP0F[0x08] = simple(privNop);
MAP0F[0x09] = simple(privNop);
MAP0F[0x0b] = simple(opUD, true);
MAP0F[0xae] = decGroup15;

