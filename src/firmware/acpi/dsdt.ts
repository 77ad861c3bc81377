// Differentiated System Description Table: the AML definition block Linux's ACPI interpreter loads. It holds
// the sleep states the PM device implements (\_S0, \_S5), one processor device per VP under \_SB, and whatever
// devices the platform adds to \_SB (the place for the VMBus module device: pass its AML in `devices`).
import { concat, device, name, pkg, scope, type Aml } from './aml.js';
import { sdt } from './sdt-header.js';

/** Revision 2: 64-bit AML integers. */
export const DSDT_REVISION = 2;

export interface DsdtConfig {
  vpCount: number;
  /** SLP_TYP values the PM1a control register takes for S0 (working) and S5 (soft off). */
  s0SlpTyp: number;
  s5SlpTyp: number;
  /** Extra terms inside Scope (\_SB), after the processors. */
  devices?: Aml[];
}

/** The processor device of VP `vp`: C000, C001, ... (hex), _UID = the MADT's ACPI processor UID. */
export function processorDevice(vp: number): Aml {
  const n = vp.toString(16).toUpperCase().padStart(3, '0');
  if (n.length > 3) throw new RangeError(`processor ${vp}: at most 4096 processor devices`);
  return device(`C${n}`, name('_HID', 'ACPI0007'), name('_UID', vp));
}

/** The definition block's contents (no table header). */
export function dsdtBody(c: DsdtConfig): Aml {
  const processors: Aml[] = [];
  for (let vp = 0; vp < c.vpCount; vp++) processors.push(processorDevice(vp));
  return concat(
    // Package {PM1a SLP_TYP, PM1b SLP_TYP, reserved, reserved}; there is no PM1b block, so its value is unused.
    name('_S0', pkg(c.s0SlpTyp, c.s0SlpTyp, 0, 0)),
    name('_S5', pkg(c.s5SlpTyp, c.s5SlpTyp, 0, 0)),
    scope('_SB', ...processors, ...(c.devices ?? [])),
  );
}

export function buildDsdt(c: DsdtConfig): Uint8Array {
  return sdt('DSDT', DSDT_REVISION, dsdtBody(c));
}
