// Small helpers for reading on-disk integers safely.

/** A little-endian u64 as a number; values above 2^53 come back as Infinity so range checks reject them. */
export function readU64LE(b: Buffer, off: number): number {
  const v = b.readBigUInt64LE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

export function readU64BE(b: Buffer, off: number): number {
  const v = b.readBigUInt64BE(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

export function alignUp(n: number, a: number): number { return Math.ceil(n / a) * a; }

export function isPowerOfTwo(n: number): boolean { return Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n)); }

/** Whether every byte of `b` is zero. */
export function isAllZero(b: Uint8Array): boolean {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const m = Math.min(n - i, ZEROES.length);
    if (!buf.subarray(i, i + m).equals(ZEROES.subarray(0, m))) return false;
    i += m;
  }
  return true;
}
const ZEROES = Buffer.alloc(1024 * 1024);
