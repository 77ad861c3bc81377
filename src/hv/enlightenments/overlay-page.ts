// Pages the hypervisor fills for the guest (the hypercall page, the reference TSC page). Hyper-V overlays
// them on the GPA; here they are written into the guest RAM page at that GPA, which is what Linux relies on.
// The page must be RAM the partition may read and write: writing a page the root mapped read-only (or not at
// all) on the guest's behalf would let the guest change memory it cannot change itself.
import { GPA_READ, GPA_WRITE, PHYS_ADDR_BITS } from '../../vp/index.js';
import type { Partition } from '../partition.js';

const PAGE_FIELD_HI_LIMIT = 2 ** (PHYS_ADDR_BITS - 32);

/** The MSR's page field (bits 63:12 of (lo, hi)) names an address the processor could generate. */
export function pageFieldValid(hi: number): boolean {
  return (hi >>> 0) < PAGE_FIELD_HI_LIMIT;
}

/** GPA page number from a page-address MSR value (only call with a valid page field). */
export function pageNumber(lo: number, hi: number): number {
  return (hi >>> 0) * 1048576 + (lo >>> 12);
}

/** Host byte offset of RAM page `gpaPage` of the partition, or -1 when it is not read/write RAM. */
export function ramPageHost(p: Partition, gpaPage: number): number {
  const map = p.map;
  if (gpaPage >= map.pageCount) return -1;
  const spa = map.spaPage[gpaPage];
  if (spa < 0 || (map.rights[gpaPage] & (GPA_READ | GPA_WRITE)) !== (GPA_READ | GPA_WRITE)) return -1;
  return spa * 4096;
}

/** Little-endian 32-bit store into host memory (no DataView allocation on these paths). */
export function store32(u8: Uint8Array, off: number, v: number): void {
  u8[off] = v & 0xff;
  u8[off + 1] = (v >>> 8) & 0xff;
  u8[off + 2] = (v >>> 16) & 0xff;
  u8[off + 3] = (v >>> 24) & 0xff;
}
