// The 36-byte System Description Table header every ACPI table but the RSDP and FACS starts with (ACPI 6.x,
// 5.2.6): signature, length, revision, checksum over the whole table, OEM ids, creator id.
import { fixChecksum } from './checksum.js';

export const SDT_HEADER_SIZE = 36;
export const OEM_ID = 'HYPATI';
export const OEM_TABLE_ID = 'HYPATIA ';
export const CREATOR_ID = 'HYPA';
const OEM_REVISION = 1;
const CREATOR_REVISION = 1;

export function writeAscii(b: Uint8Array, at: number, s: string, size: number): void {
  for (let i = 0; i < size; i++) b[at + i] = i < s.length ? s.charCodeAt(i) : 0x20;
}

/** A complete table: the header (checksum set last) followed by `body`. */
export function sdt(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const t = new Uint8Array(SDT_HEADER_SIZE + body.length);
  const dv = new DataView(t.buffer);
  writeAscii(t, 0, signature, 4);
  dv.setUint32(4, t.length, true);
  t[8] = revision;
  writeAscii(t, 10, OEM_ID, 6);
  writeAscii(t, 16, OEM_TABLE_ID, 8);
  dv.setUint32(24, OEM_REVISION, true);
  writeAscii(t, 28, CREATOR_ID, 4);
  dv.setUint32(32, CREATOR_REVISION, true);
  t.set(body, SDT_HEADER_SIZE);
  fixChecksum(t, 9);
  return t;
}
