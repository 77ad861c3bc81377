// Segment-descriptor queries: VERR/VERW (0F 00 /4 /5), LAR (0F 02), LSL (0F 03). They test a selector without
// faulting on a bad one: the answer is ZF. Linux uses VERW to clear CPU buffers on kernel exit (MDS
// mitigation) and LSL in the vDSO's getcpu, so both run on every boot.
import { S_GDTR_LIMIT, S_LDTR_LIMIT } from '../state.js';
import { MAP0F, type Decoder } from '../decoder.js';
import { setArithFlags } from '../flags.js';
import { FLAG_ZF } from '../constants.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { readRM, setReg } from '../operands.js';
import { readDescriptor, type Descriptor } from '../segments.js';

/** The descriptor for `sel` if it is inside its table, else null (no fault: these instructions report ZF). */
function lookup(cpu: X86Cpu, sel: number): Descriptor | null {
  if ((sel & 0xfffc) === 0) return null;
  const limit = (sel & 4) !== 0 ? cpu.s[S_LDTR_LIMIT] : cpu.s[S_GDTR_LIMIT];
  if ((sel & ~7) + 7 > limit) return null;
  return readDescriptor(cpu, sel);
}

/** Code/data segments are visible when conforming code, or when DPL >= max(CPL, RPL). */
function privilegeOk(cpu: X86Cpu, sel: number, d: Descriptor): boolean {
  if (d.code && (d.type & 4) !== 0) return true;
  return d.dpl >= Math.max(cpu.cpl, sel & 3);
}

function setZF(cpu: X86Cpu, ok: boolean): void {
  setArithFlags(cpu.s, ok ? FLAG_ZF : 0, FLAG_ZF);
}

function verrVerw(cpu: X86Cpu, i: Insn): void {
  const sel = readRM(cpu, i, 2) & 0xffff;
  const d = lookup(cpu, sel);
  let ok = false;
  if (d !== null && d.s && privilegeOk(cpu, sel, d)) {
    ok = i.op === 4
      ? !d.code || (d.type & 2) !== 0 // VERR: data, or readable code
      : !d.code && (d.type & 2) !== 0; // VERW: writable data
  }
  setZF(cpu, ok);
}

/** System descriptor types LAR (and, without call gates, LSL) accept in long mode. */
function systemTypeOk(type: number, forLar: boolean): boolean {
  return type === 2 || type === 9 || type === 0xb || (forLar && type === 0xc);
}

function larLsl(cpu: X86Cpu, i: Insn): void {
  const sel = readRM(cpu, i, 2) & 0xffff;
  const d = lookup(cpu, sel);
  const lar = i.op === 2;
  let ok = false;
  if (d !== null) {
    ok = d.s ? privilegeOk(cpu, sel, d) : systemTypeOk(d.type, lar) && d.dpl >= Math.max(cpu.cpl, sel & 3);
  }
  if (ok && d !== null) {
    // LAR: the second descriptor word masked by 00FxFF00h; the SDM leaves x (limit 19:16) undefined, hardware
    // (and the differential test's host) returns it.
    const v = lar ? (i.size === 2 ? d.w1 & 0xff00 : d.w1 & 0x00ffff00) : d.limit;
    setReg(cpu.s, i.size, i.reg, i.size === 2 ? v & 0xffff : v, 0);
  }
  setZF(cpu, ok);
}

/** Group 6's /4 and /5 (the other forms are in system.ts, which calls this). */
export function decVerrVerw(d: Decoder, i: Insn): void {
  void d;
  i.exec = verrVerw;
}

function decLarLsl(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.op = i.opcode & 0xff; // 2 = LAR, 3 = LSL
  i.exec = larLsl;
}

MAP0F[0x02] = decLarLsl;
MAP0F[0x03] = decLarLsl;
