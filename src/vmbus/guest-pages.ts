// How VMBus code reaches guest memory: only page by page, through the page frame numbers of a GPADL. A GuestPages
// maps one guest page frame to its 4 KiB of host bytes, or refuses it when the frame is not the partition's RAM.
// The VSPs get guest data only through GPADLs built on this, never by raw guest physical address.

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

export interface GuestPages {
  /** The 4 KiB of host memory behind guest page frame `pfn`, or null when `pfn` is not RAM of the partition.
   *  The view must start at a multiple of 8 bytes in its buffer (ring headers are read as aligned u32s). */
  page(pfn: number): Uint8Array | null;
  /**
   * Optional: the host wrote guest data into pages pfns[0..count) (in any order, possibly repeated), so a
   * processor must not go on running code it decoded from their old bytes (DMA is coherent on real hardware).
   */
  written?(pfns: ArrayLike<number>, count: number): void;
}

/** One run of guest RAM: guest page frames [firstPfn, firstPfn + bytes.length / 4096) backed by `bytes`. */
export interface RamRange { firstPfn: number; bytes: Uint8Array }

/** GuestPages over a partition's RAM ranges (e.g. below and above the MMIO hole). */
export class RamGuestPages implements GuestPages {
  private readonly ranges: RamRange[];
  constructor(ranges: RamRange[]) {
    for (const r of ranges) {
      if (r.bytes.length % PAGE_SIZE !== 0 || r.bytes.byteOffset % 8 !== 0) throw new Error('RamGuestPages: ranges must be whole, 8-aligned pages');
    }
    this.ranges = ranges.slice();
  }

  page(pfn: number): Uint8Array | null {
    if (!Number.isSafeInteger(pfn) || pfn < 0) return null;
    for (const r of this.ranges) {
      const idx = pfn - r.firstPfn;
      if (idx >= 0 && idx < r.bytes.length / PAGE_SIZE) return r.bytes.subarray(idx * PAGE_SIZE, (idx + 1) * PAGE_SIZE);
    }
    return null;
  }
}
