// Root System Description Pointer, revision 2 (ACPI 6.x, 5.2.5.3): 36 bytes; the first checksum covers the
// ACPI 1.0 part (20 bytes), the extended checksum the whole structure. We publish only an XSDT.
import { fixChecksum } from './checksum.js';
import { OEM_ID, writeAscii } from './sdt-header.js';

export const RSDP_SIZE = 36;

export function buildRsdp(xsdtGpa: number): Uint8Array {
  const r = new Uint8Array(RSDP_SIZE);
  const dv = new DataView(r.buffer);
  writeAscii(r, 0, 'RSD PTR ', 8);
  writeAscii(r, 9, OEM_ID, 6);
  r[15] = 2; // revision: ACPI 2.0+ (XSDT)
  dv.setUint32(16, 0, true); // RsdtAddress: none
  dv.setUint32(20, RSDP_SIZE, true);
  dv.setBigUint64(24, BigInt(xsdtGpa), true);
  fixChecksum(r, 8, 0, 20);
  fixChecksum(r, 32, 0, RSDP_SIZE);
  return r;
}
