// Multiple APIC Description Table (ACPI 6.x, 5.2.12): the local APIC of every VP, the IOAPIC, and how legacy
// ISA IRQs map to its inputs (interrupt source overrides).
import { sdt } from './sdt-header.js';

export const LOCAL_APIC_ADDRESS = 0xfee00000;
export const IOAPIC_ADDRESS = 0xfec00000;
const TYPE_LOCAL_APIC = 0, TYPE_IOAPIC = 1, TYPE_INTERRUPT_OVERRIDE = 2, TYPE_LOCAL_APIC_NMI = 4;
const LAPIC_ENABLED = 1;

/** MPS INTI flags: polarity in bits 0-1 (1 active high, 3 active low), trigger mode in bits 2-3 (1 edge, 3 level). */
export const INTI_ACTIVE_HIGH = 0x1, INTI_ACTIVE_LOW = 0x3, INTI_EDGE = 0x4, INTI_LEVEL = 0xc;

export interface InterruptOverride { irq: number; gsi: number; flags: number }

export interface MadtConfig {
  vpCount: number;
  ioapicId: number;
  /** ISA IRQs that do not reach the IOAPIC input of the same number, or not with ISA's edge/high signalling. */
  overrides: InterruptOverride[];
}

export function buildMadt(c: MadtConfig): Uint8Array {
  if (!Number.isInteger(c.vpCount) || c.vpCount < 1 || c.vpCount > 255) throw new RangeError(`MADT for ${c.vpCount} VPs (xAPIC ids 0..254)`);
  const entries: number[][] = [];
  const u16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];
  const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  // ACPI processor UID = APIC id = VP index; the DSDT's processor devices carry the same _UID.
  for (let vp = 0; vp < c.vpCount; vp++) entries.push([TYPE_LOCAL_APIC, 8, vp, vp, ...u32(LAPIC_ENABLED)]);
  entries.push([TYPE_IOAPIC, 12, c.ioapicId, 0, ...u32(IOAPIC_ADDRESS), ...u32(0)]);
  for (const o of c.overrides) entries.push([TYPE_INTERRUPT_OVERRIDE, 10, 0 /* ISA */, o.irq, ...u32(o.gsi), ...u16(o.flags)]);
  // LINT1 of every processor (UID 0xFF = all) is the NMI input, as on a PC.
  entries.push([TYPE_LOCAL_APIC_NMI, 6, 0xff, ...u16(0), 1]);
  const flat = entries.flat();
  const body = new Uint8Array(8 + flat.length);
  const dv = new DataView(body.buffer);
  dv.setUint32(0, LOCAL_APIC_ADDRESS, true);
  dv.setUint32(4, 0, true); // flags: no PCAT_COMPAT, there are no 8259 PICs to mask
  body.set(flat, 8);
  return sdt('APIC', 5, body);
}
