// Fixed ACPI Description Table, revision 6 (ACPI 6.x, 5.2.9; 276 bytes). A full FADT, not hardware-reduced:
// the platform has the fixed PM1a event/control registers (src/vdev/acpi-pm.ts) so Linux powers off through
// PM1a_CNT.SLP_TYP/SLP_EN, and a reset register. No SMI command port: the platform is always in ACPI mode.
import { ACCESS_BYTE, ACCESS_DWORD, ACCESS_WORD, SPACE_SYSTEM_IO, writeGas } from './gas.js';
import { SDT_HEADER_SIZE, sdt } from './sdt-header.js';

export const FADT_REVISION = 6;
export const FADT_MINOR_REVISION = 0;
export const FADT_SIZE = 276;

/** Field offsets from the start of the table (ACPI 6.x table 5.9; Linux include/acpi/actbl.h). */
export const FADT = {
  FIRMWARE_CTRL: 36, DSDT: 40, PREFERRED_PM_PROFILE: 45, SCI_INT: 46, SMI_CMD: 48,
  PM1a_EVT_BLK: 56, PM1a_CNT_BLK: 64, PM_TMR_BLK: 76, PM1_EVT_LEN: 88, PM1_CNT_LEN: 89, PM_TMR_LEN: 91,
  IAPC_BOOT_ARCH: 109, FLAGS: 112, RESET_REG: 116, RESET_VALUE: 128, MINOR_REVISION: 131,
  X_FIRMWARE_CTRL: 132, X_DSDT: 140, X_PM1a_EVT_BLK: 148, X_PM1a_CNT_BLK: 172, X_PM_TMR_BLK: 208,
} as const;

/** FADT Flags (ACPI 6.x table 5.10). */
export const FADT_FLAGS = {
  WBINVD: 1 << 0, PROC_C1: 1 << 2, PWR_BUTTON: 1 << 4, SLP_BUTTON: 1 << 5, TMR_VAL_EXT: 1 << 8,
  RESET_REG_SUP: 1 << 10, USE_PLATFORM_CLOCK: 1 << 15, HW_REDUCED_ACPI: 1 << 20,
} as const;

/** IA-PC boot architecture flags (ACPI 6.x table 5.11). */
export const IAPC_BOOT_ARCH = {
  LEGACY_DEVICES: 1 << 0, I8042: 1 << 1, VGA_NOT_PRESENT: 1 << 2, MSI_NOT_SUPPORTED: 1 << 3, CMOS_RTC_NOT_PRESENT: 1 << 5,
} as const;

export interface FadtConfig {
  facsGpa: number;
  dsdtGpa: number;
  sciIrq: number;
  /** First port of the PM1a event block (status word, then enable word). */
  pm1aEvtPort: number;
  /** The PM1a control word's port. */
  pm1aCntPort: number;
  /** The 32-bit ACPI PM timer's port, or null when the platform has none. */
  pmTimerPort: number | null;
  resetPort: number;
  resetValue: number;
  /** The platform has a CMOS RTC at ports 0x70/0x71. */
  cmosRtc: boolean;
  /** The platform has an i8042 keyboard controller. */
  i8042: boolean;
}

export function buildFadt(c: FadtConfig): Uint8Array {
  const body = new Uint8Array(FADT_SIZE - SDT_HEADER_SIZE);
  const dv = new DataView(body.buffer);
  const at = (off: number): number => off - SDT_HEADER_SIZE;
  // Only the 64-bit pointers (X_FIRMWARE_CTRL, X_DSDT): with both set, Linux installs the FACS twice.
  dv.setUint32(at(FADT.FIRMWARE_CTRL), 0, true);
  dv.setUint32(at(FADT.DSDT), 0, true);
  dv.setUint8(at(FADT.PREFERRED_PM_PROFILE), 0); // unspecified
  dv.setUint16(at(FADT.SCI_INT), c.sciIrq, true);
  dv.setUint32(at(FADT.SMI_CMD), 0, true); // no SMI: ACPI mode is permanent, ACPI_ENABLE/DISABLE unused
  dv.setUint32(at(FADT.PM1a_EVT_BLK), c.pm1aEvtPort, true);
  dv.setUint32(at(FADT.PM1a_CNT_BLK), c.pm1aCntPort, true);
  dv.setUint8(at(FADT.PM1_EVT_LEN), 4);
  dv.setUint8(at(FADT.PM1_CNT_LEN), 2);
  if (c.pmTimerPort !== null) {
    dv.setUint32(at(FADT.PM_TMR_BLK), c.pmTimerPort, true);
    dv.setUint8(at(FADT.PM_TMR_LEN), 4);
  }
  let boot: number = IAPC_BOOT_ARCH.VGA_NOT_PRESENT;
  if (c.i8042) boot |= IAPC_BOOT_ARCH.I8042;
  if (!c.cmosRtc) boot |= IAPC_BOOT_ARCH.CMOS_RTC_NOT_PRESENT;
  dv.setUint16(at(FADT.IAPC_BOOT_ARCH), boot, true);
  // No fixed-feature power/sleep buttons (PWR_BUTTON/SLP_BUTTON set mean "none, or a control-method device").
  let flags: number = FADT_FLAGS.WBINVD | FADT_FLAGS.PROC_C1 | FADT_FLAGS.PWR_BUTTON | FADT_FLAGS.SLP_BUTTON | FADT_FLAGS.RESET_REG_SUP;
  if (c.pmTimerPort !== null) flags |= FADT_FLAGS.TMR_VAL_EXT;
  dv.setUint32(at(FADT.FLAGS), flags, true);
  writeGas(dv, at(FADT.RESET_REG), { space: SPACE_SYSTEM_IO, bitWidth: 8, accessSize: ACCESS_BYTE, address: c.resetPort });
  dv.setUint8(at(FADT.RESET_VALUE), c.resetValue);
  dv.setUint8(at(FADT.MINOR_REVISION), FADT_MINOR_REVISION);
  dv.setBigUint64(at(FADT.X_FIRMWARE_CTRL), BigInt(c.facsGpa), true);
  dv.setBigUint64(at(FADT.X_DSDT), BigInt(c.dsdtGpa), true);
  writeGas(dv, at(FADT.X_PM1a_EVT_BLK), { space: SPACE_SYSTEM_IO, bitWidth: 32, accessSize: ACCESS_WORD, address: c.pm1aEvtPort });
  writeGas(dv, at(FADT.X_PM1a_CNT_BLK), { space: SPACE_SYSTEM_IO, bitWidth: 16, accessSize: ACCESS_WORD, address: c.pm1aCntPort });
  if (c.pmTimerPort !== null) writeGas(dv, at(FADT.X_PM_TMR_BLK), { space: SPACE_SYSTEM_IO, bitWidth: 32, accessSize: ACCESS_DWORD, address: c.pmTimerPort });
  return sdt('FACP', FADT_REVISION, body);
}
