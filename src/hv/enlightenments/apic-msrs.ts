// Privilege AccessIntrCtrlRegs (bit 4): the synthetic APIC MSRs and the VP assist page (TLFS "Virtual
// Processor Assist Page" and "Synthetic APIC MSRs"; Linux hv_init.c hv_cpu_init writes the assist page on
// every CPU whatever the hints say). The APIC MSRs reach the same registers as the VP's local APIC page or
// x2APIC MSRs; we do not recommend them (hint bit 3 stays clear: x2APIC MSRs are as cheap here). The assist
// page is stored and zeroed when enabled or moved; its optional "lazy EOI" flag is never set by this
// hypervisor, which the TLFS allows (the guest then EOIs normally).
import type { VirtualProcessor } from '../virtual-processor.js';
import { pageFieldValid, pageNumber, ramPageHost } from './overlay-page.js';

const GP = 0, DONE = 1;

/** xAPIC register offsets and the x2APIC ICR MSR (Intel SDM vol. 3, 11.4.1 and 11.12.1.2). */
const TPR = 0x80, EOI = 0xb0, ICR_LO = 0x300, ICR_HI = 0x310;
const X2APIC_ICR_MSR = 0x830;
const ICR_DELIVERY_PENDING = 1 << 12;

/** HV_X64_MSR_VP_ASSIST_PAGE: bit 0 enable, bits 11:1 reserved, bits 63:12 the GPA page. */
export const VpAssistMsr = { ENABLE: 0x1, RESERVED_LO: 0xffe } as const;

/** Per-VP synthetic registers. */
export class VpEnlightenments {
  vpAssistLo = 0;
  vpAssistHi = 0;

  inspect(): Record<string, unknown> {
    return { vpAssistPage: '0x' + ((BigInt(this.vpAssistHi >>> 0) << 32n) | BigInt(this.vpAssistLo >>> 0)).toString(16) };
  }
}

export function readEoi(): number {
  return GP; // write-only
}

export function writeEoi(vp: VirtualProcessor): number {
  if (!vp.apic.enabled) return GP;
  vp.apic.mmioWrite(EOI, 4, 0);
  return DONE;
}

export function readTpr(vp: VirtualProcessor, out: Int32Array): number {
  if (!vp.apic.enabled) return GP;
  out[0] = vp.apic.tpr();
  out[1] = 0;
  return DONE;
}

export function writeTpr(vp: VirtualProcessor, lo: number, hi: number): number {
  if (!vp.apic.enabled || hi !== 0 || (lo & ~0xff) !== 0) return GP;
  vp.apic.mmioWrite(TPR, 4, lo);
  return DONE;
}

/** The ICR as one 64-bit value: the xAPIC layout (destination in bits 63:56) or, in x2APIC mode, x2APIC's. */
export function readIcr(vp: VirtualProcessor, out: Int32Array): number {
  const apic = vp.apic;
  if (!apic.enabled) return GP;
  if (apic.x2apic) return apic.rdmsr(X2APIC_ICR_MSR, out) ? DONE : GP;
  out[0] = apic.mmioRead(ICR_LO, 4) & ~ICR_DELIVERY_PENDING;
  out[1] = apic.mmioRead(ICR_HI, 4);
  return DONE;
}

export function writeIcr(vp: VirtualProcessor, lo: number, hi: number): number {
  const apic = vp.apic;
  if (!apic.enabled) return GP;
  if (apic.x2apic) return apic.wrmsr(X2APIC_ICR_MSR, lo, hi) ? DONE : GP;
  if ((hi & 0x00ffffff) !== 0) return GP; // xAPIC ICR high: only the destination byte exists
  apic.mmioWrite(ICR_HI, 4, hi);
  apic.mmioWrite(ICR_LO, 4, lo); // the low half sends
  return DONE;
}

export function readVpAssist(vp: VirtualProcessor, out: Int32Array): number {
  out[0] = vp.synthetic.vpAssistLo;
  out[1] = vp.synthetic.vpAssistHi;
  return DONE;
}

export function writeVpAssist(vp: VirtualProcessor, lo: number, hi: number): number {
  if ((lo & VpAssistMsr.RESERVED_LO) !== 0 || !pageFieldValid(hi)) return GP;
  const e = vp.synthetic;
  if ((lo & VpAssistMsr.ENABLE) !== 0) {
    const page = pageNumber(lo, hi);
    const host = ramPageHost(vp.partition, page);
    if (host < 0) return GP;
    const moved = (e.vpAssistLo & VpAssistMsr.ENABLE) === 0 || pageNumber(e.vpAssistLo, e.vpAssistHi) !== page;
    if (moved) {
      vp.cpu.u8.fill(0, host, host + 4096);
      vp.partition.invalidate(page, 1);
    }
  }
  e.vpAssistLo = lo;
  e.vpAssistHi = hi;
  return DONE;
}
