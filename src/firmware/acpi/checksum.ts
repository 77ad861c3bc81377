// ACPI checksums: the bytes a checksum covers must sum to zero modulo 256 (ACPI 6.x, 5.2.5.3 and 5.2.6).

/** Sum of bytes modulo 256. */
export function byteSum(b: Uint8Array, start = 0, end = b.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s = (s + b[i]) & 0xff;
  return s;
}

/** Set b[at] so that bytes start..end sum to zero. */
export function fixChecksum(b: Uint8Array, at: number, start = 0, end = b.length): void {
  b[at] = 0;
  b[at] = (0x100 - byteSum(b, start, end)) & 0xff;
}
