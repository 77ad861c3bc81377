// Firmware ACPI Control Structure (ACPI 6.x, 5.2.10): required with a full (not hardware-reduced) FADT. No
// header checksum; 64 bytes, 64-byte aligned. It holds the global lock (never contended here: no firmware
// shares ACPI hardware with the OS) and the waking vector (we support no sleep state to wake from).
import { writeAscii } from './sdt-header.js';

export const FACS_SIZE = 64;

export function buildFacs(): Uint8Array {
  const f = new Uint8Array(FACS_SIZE);
  const dv = new DataView(f.buffer);
  writeAscii(f, 0, 'FACS', 4);
  dv.setUint32(4, FACS_SIZE, true);
  dv.setUint32(8, 0, true); // hardware signature
  f[32] = 2; // version (ACPI 4.0 onwards)
  return f;
}
