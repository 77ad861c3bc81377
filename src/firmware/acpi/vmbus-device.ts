// The VMBus devices of the DSDT, as Linux's hv_vmbus looks for them (drivers/hv/vmbus_drv.c vmbus_acpi_add,
// vmbus_walk_resources; contract §5): a module device \_SB.VMOD (_HID ACPI0004) whose _CRS lists, as QWordMemory
// producer ranges, the MMIO VMBus devices may allocate (hyperv_fb's framebuffer; storvsc, netvsc and the ICs
// need none), containing the VMBus device VMBS that hv_vmbus binds to by _HID "VMBus". Linux requires VMBS to
// have a _CRS (an empty template is fine: no IRQ descriptor, x86 uses vector 0xF3) and takes the MMIO ranges
// from the nearest ancestor whose _CRS has address descriptors, here VMOD.
import { AmlError, and, device, method, name, or, ref, ret, type Aml } from './aml.js';
import { qwordMemory, resourceTemplate } from './aml-resources.js';
import { IOAPIC_ADDRESS } from './madt.js';
import { MMIO_HOLE_START } from '../boot-layout.js';

/** One MMIO range VMBus devices may allocate from. */
export interface MmioRange { base: number | bigint; length: number | bigint }

export interface VmbusAcpiConfig {
  /** Ranges published in VMOD's _CRS (at least one; Linux ignores ranges ending below 1 MiB). */
  mmio: MmioRange[];
  /**
   * The VMBus device's _HID: "VMBus" (what Linux matches, as Hyper-V names it). Only a test overrides it, to
   * get AML iasl's compiler accepts (it refuses a 5-character _HID string).
   */
  hid?: string;
}

/**
 * The MMIO hole between guest RAM (which ends at or below MMIO_HOLE_START) and the IOAPIC: 0xC0000000 ..
 * 0xFEBFFFFF, nearly 1 GiB, overlapping no emulated device (IOAPIC 0xFEC00000, local APIC 0xFEE00000) and below
 * the vTPM address Linux truncates pools at (0xFED40000). No range above 4 GiB: nothing offered here allocates
 * 64-bit MMIO (only pci-hyperv would).
 */
export const VMBUS_MMIO_LOW: MmioRange = { base: MMIO_HOLE_START, length: IOAPIC_ADDRESS - MMIO_HOLE_START };

/** \_SB.VMOD with VMBS inside: pass it in AcpiPlatform.devices. */
export function vmbusAcpiDevices(c: VmbusAcpiConfig): Aml {
  if (c.mmio.length === 0) throw new AmlError('VMOD needs at least one MMIO range');
  for (const r of c.mmio) {
    if (BigInt(r.base) + BigInt(r.length) <= 0x100000n) throw new AmlError(`VMBus MMIO range at ${r.base} ends below 1 MiB: Linux would ignore it`);
  }
  const ranges = c.mmio.map((r) => qwordMemory(r.base, r.length, { producer: true }));
  return device('VMOD',
    name('_HID', 'ACPI0004'),
    name('_UID', 0),
    name('_CRS', resourceTemplate(...ranges)),
    device('VMBS',
      // Present, enabled, shown, functioning; _DIS/_PS0 let the OS clear and set the enabled bit as Hyper-V's does.
      name('STA', 0x0f),
      name('_HID', c.hid ?? 'VMBus'),
      name('_DDN', 'VMBUS'),
      name('_UID', 0),
      method('_DIS', {}, and(ref('STA'), 0x0d, ref('STA'))),
      method('_PS0', {}, or(ref('STA'), 0x0f, ref('STA'))),
      method('_STA', {}, ret(ref('STA'))),
      method('_PS3', {}),
      name('_CRS', resourceTemplate())));
}
