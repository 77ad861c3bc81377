// The ACPI description of this platform, generated at every boot: which tables exist, where they go in guest
// memory, and the platform facts they state (PM register ports, SCI, sleep types, interrupt routing). The PM
// device (src/vdev/acpi-pm.ts) is built from the same AcpiPlatform object, so the tables and the device agree.
import { ACPI_END, ACPI_GPA } from '../boot-layout.js';
import { BootError, hex } from '../boot-error.js';
import type { Aml } from './aml.js';
import { buildDsdt } from './dsdt.js';
import { buildFacs } from './facs.js';
import { buildFadt, FADT_SIZE } from './fadt.js';
import { buildMadt, INTI_ACTIVE_HIGH, INTI_EDGE, INTI_LEVEL, type InterruptOverride } from './madt.js';
import { buildRsdp, RSDP_SIZE } from './rsdp.js';
import { buildXsdt } from './xsdt.js';

export interface AcpiPlatform {
  vpCount: number;
  /** The SCI's ISA IRQ (routed to the IOAPIC input of the same number, level-triggered, active high). */
  sciIrq: number;
  pm1aEvtPort: number;
  pm1aCntPort: number;
  pmTimerPort: number | null;
  resetPort: number;
  resetValue: number;
  s0SlpTyp: number;
  s5SlpTyp: number;
  ioapicId: number;
  /** Route ISA IRQ 0 (the PIT, if a timer engineer wires one) to IOAPIC input 2, as on a PC. */
  irq0ToGsi2: boolean;
  cmosRtc: boolean;
  i8042: boolean;
  /** AML placed in Scope (\_SB) after the processors: the VMBus module device goes here. */
  devices: Aml[];
}

/**
 * Ports of the PM register block (our choice; the FADT publishes them): PM1a event block 0x400-0x403 (status
 * word, enable word), PM1a control 0x404-0x405, reset register 0x40C (write RESET_VALUE to reset).
 * SLP_TYP 5 for S5 and 0 for S0 (the numbers only have to match between \_Sx and the device).
 */
export function defaultAcpiPlatform(vpCount: number): AcpiPlatform {
  return {
    vpCount, sciIrq: 9, pm1aEvtPort: 0x400, pm1aCntPort: 0x404, pmTimerPort: null, resetPort: 0x40c, resetValue: 0x01,
    s0SlpTyp: 0, s5SlpTyp: 5, ioapicId: 0, irq0ToGsi2: true, cmosRtc: false, i8042: false, devices: [],
  };
}

export interface PlacedTable { signature: string; gpa: number; bytes: Uint8Array }

export interface AcpiTables {
  rsdpGpa: number;
  /** Every structure with its address: RSDP, FACS, DSDT, FACP, APIC, XSDT. */
  tables: PlacedTable[];
  /** First byte past the last table. */
  end: number;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export function buildAcpiTables(p: AcpiPlatform, base = ACPI_GPA, limit = ACPI_END): AcpiTables {
  const overrides: InterruptOverride[] = [];
  if (p.irq0ToGsi2) overrides.push({ irq: 0, gsi: 2, flags: INTI_ACTIVE_HIGH | INTI_EDGE });
  // ACPI defines the SCI as level-triggered, active high (sharable): say so, since ISA IRQs default to edge.
  overrides.push({ irq: p.sciIrq, gsi: p.sciIrq, flags: INTI_ACTIVE_HIGH | INTI_LEVEL });
  const facs = buildFacs();
  const dsdt = buildDsdt({ vpCount: p.vpCount, s0SlpTyp: p.s0SlpTyp, s5SlpTyp: p.s5SlpTyp, devices: p.devices });
  const madt = buildMadt({ vpCount: p.vpCount, ioapicId: p.ioapicId, overrides });
  // Addresses first (sizes do not depend on them), then the tables that point to others.
  const rsdpGpa = base;
  const facsGpa = align(rsdpGpa + RSDP_SIZE, 64); // FACS: 64-byte aligned
  const dsdtGpa = align(facsGpa + facs.length, 16);
  const fadtGpa = align(dsdtGpa + dsdt.length, 16);
  const madtGpa = align(fadtGpa + FADT_SIZE, 16);
  const xsdtGpa = align(madtGpa + madt.length, 16);
  const fadt = buildFadt({
    facsGpa, dsdtGpa, sciIrq: p.sciIrq, pm1aEvtPort: p.pm1aEvtPort, pm1aCntPort: p.pm1aCntPort, pmTimerPort: p.pmTimerPort,
    resetPort: p.resetPort, resetValue: p.resetValue, cmosRtc: p.cmosRtc, i8042: p.i8042,
  });
  const xsdt = buildXsdt([fadtGpa, madtGpa]);
  const end = xsdtGpa + xsdt.length;
  if (end > limit) throw new BootError(`ACPI tables need ${end - base} bytes from ${hex(base)}; the area ends at ${hex(limit)}`);
  return {
    rsdpGpa,
    tables: [
      { signature: 'RSDP', gpa: rsdpGpa, bytes: buildRsdp(xsdtGpa) },
      { signature: 'FACS', gpa: facsGpa, bytes: facs },
      { signature: 'DSDT', gpa: dsdtGpa, bytes: dsdt },
      { signature: 'FACP', gpa: fadtGpa, bytes: fadt },
      { signature: 'APIC', gpa: madtGpa, bytes: madt },
      { signature: 'XSDT', gpa: xsdtGpa, bytes: xsdt },
    ],
    end,
  };
}
