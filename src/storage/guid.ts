// GUIDs as VHDX stores them: 16 bytes, the first three fields little-endian, the last eight bytes as they are.
import { randomBytes } from 'node:crypto';

export type Guid = Uint8Array;

/** Parses "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" (braces optional) into its 16-byte on-disk form; null if malformed. */
export function parseGuid(text: string): Guid | null {
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(text.trim());
  if (!m) return null;
  const b = Buffer.alloc(16);
  b.writeUInt32LE(parseInt(m[1], 16), 0);
  b.writeUInt16LE(parseInt(m[2], 16), 4);
  b.writeUInt16LE(parseInt(m[3], 16), 6);
  Buffer.from(m[4] + m[5], 'hex').copy(b, 8);
  return b;
}

/** A GUID constant from its text form (throws on a typo, at module load). */
export function guid(text: string): Guid {
  const g = parseGuid(text);
  if (!g) throw new Error(`bad GUID constant ${text}`);
  return g;
}

export function formatGuid(g: Uint8Array): string {
  const b = Buffer.from(g.buffer, g.byteOffset, 16);
  const h = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
  const tail = b.subarray(8, 16).toString('hex').toUpperCase();
  return `${h(b.readUInt32LE(0), 8)}-${h(b.readUInt16LE(4), 4)}-${h(b.readUInt16LE(6), 4)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

/** A random (version 4) GUID. */
export function randomGuid(): Guid {
  const b = randomBytes(16);
  b[7] = (b[7] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return b;
}

export function guidEquals(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isZeroGuid(g: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (g[i] !== 0) return false;
  return true;
}

export const ZERO_GUID: Guid = new Uint8Array(16);
