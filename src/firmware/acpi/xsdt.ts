// Extended System Description Table (ACPI 6.x, 5.2.8): 64-bit pointers to every other table but the DSDT and
// FACS (which the FADT points to).
import { sdt } from './sdt-header.js';

export function buildXsdt(tableGpas: number[]): Uint8Array {
  const body = new Uint8Array(tableGpas.length * 8);
  const dv = new DataView(body.buffer);
  tableGpas.forEach((g, i) => dv.setBigUint64(i * 8, BigInt(g), true));
  return sdt('XSDT', 1, body);
}
