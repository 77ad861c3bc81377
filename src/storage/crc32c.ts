// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of VHDX headers, region tables and log
// entries. Slice-by-8 tables: the log entries it covers are up to 1 MB.

const POLY = 0x82f63b78;
const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >>> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
})();

/** Continues a CRC-32C over `data` (pass the previous result as `crc` to chain; start with 0). */
export function crc32c(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = data.length;
  for (; i + 8 <= n; i += 8) {
    c ^= data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    c = t7[c & 0xff] ^ t6[(c >>> 8) & 0xff] ^ t5[(c >>> 16) & 0xff] ^ t4[c >>> 24] ^
      t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The VHDX checksum of a structure: CRC-32C over `buf` with the 4-byte checksum field at `fieldOffset` taken as
 * zero. The buffer is not modified.
 */
export function vhdxChecksum(buf: Uint8Array, fieldOffset: number): number {
  let c = crc32c(buf.subarray(0, fieldOffset));
  c = crc32c(ZERO4, c);
  return crc32c(buf.subarray(fieldOffset + 4), c);
}
const ZERO4 = new Uint8Array(4);
