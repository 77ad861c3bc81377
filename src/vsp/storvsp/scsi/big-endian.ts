// Big-endian fields of CDBs and SCSI data (SCSI is big-endian throughout).

export function be16(b: Uint8Array, at: number): number { return (b[at] << 8) | b[at + 1]; }
export function be24(b: Uint8Array, at: number): number { return (b[at] << 16) | (b[at + 1] << 8) | b[at + 2]; }
export function be32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}
/** A u64 as a double: exact below 2^53; above, any value is far beyond a disk's end, and stays so. */
export function be64(b: Uint8Array, at: number): number { return be32(b, at) * 0x1_0000_0000 + be32(b, at + 4); }

export function put16(b: Uint8Array, at: number, v: number): void { b[at] = (v >>> 8) & 0xff; b[at + 1] = v & 0xff; }
export function put24(b: Uint8Array, at: number, v: number): void { b[at] = (v >>> 16) & 0xff; b[at + 1] = (v >>> 8) & 0xff; b[at + 2] = v & 0xff; }
export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff; b[at + 1] = (v >>> 16) & 0xff; b[at + 2] = (v >>> 8) & 0xff; b[at + 3] = v & 0xff;
}
export function put64(b: Uint8Array, at: number, v: number): void {
  put32(b, at, Math.floor(v / 0x1_0000_0000));
  put32(b, at + 4, v >>> 0);
}
