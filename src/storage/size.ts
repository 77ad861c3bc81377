// Human sizes: "10G", "512M", "1.5T", "4096", "64k" (binary multiples), and their display.
import { DiskRequestError } from './errors.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new DiskRequestError(`bad size "${text}" (expected e.g. 512M, 10G, 1T or a byte count)`);
  const v = Math.round(parseFloat(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(v)) throw new DiskRequestError(`size "${text}" is too large`);
  return v;
}

export function formatSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${Number.isInteger(v) ? v : v.toFixed(2)} ${units[u]}`;
}
