// Copies between host buffers and guest memory named by page ranges (GPA-direct ranges or a GPADL's), for
// VspChannel.readGuest/writeGuest. The ranges are concatenated: range r contributes its byte_count bytes starting
// byte_offset into its first page. Every page the copy touches is checked to be the partition's RAM before any
// byte moves, so a refused copy writes nothing.
import { PAGE_SIZE, type GuestPages } from '../guest-pages.js';
import type { PageRange } from '../packet.js';

/** The highest page frame a 52-bit guest physical address can have, plus one. */
const PFN_LIMIT = 2 ** 40;

function rangeSound(r: PageRange): boolean {
  return Number.isInteger(r.byteCount) && Number.isInteger(r.byteOffset) && r.byteCount > 0 && r.byteOffset >= 0 &&
    r.byteOffset < PAGE_SIZE && r.pfns.length >= Math.ceil((r.byteOffset + r.byteCount) / PAGE_SIZE);
}

/**
 * Copies `buf.length` bytes between `buf` and the guest bytes at `offset` into the ranges (toGuest: buf -> guest).
 * False, with nothing copied, when the span runs past the ranges, a range is malformed or a page is not RAM.
 */
export function copyGuest(pages: GuestPages, ranges: readonly PageRange[], offset: number, buf: Uint8Array, toGuest: boolean): boolean {
  if (!Number.isSafeInteger(offset) || offset < 0) return false;
  if (buf.length === 0) return true;
  // Pass 1 checks everything, pass 2 copies: a guest page that is not RAM must not leave a half-done copy.
  let written = 0;
  for (let pass = 0; pass < 2; pass++) {
    let skip = offset, done = 0;
    for (let r = 0; r < ranges.length && done < buf.length; r++) {
      const range = ranges[r];
      if (!rangeSound(range)) return false;
      if (skip >= range.byteCount) { skip -= range.byteCount; continue; }
      let pos = range.byteOffset + skip; // byte position within the range's pages
      let left = Math.min(range.byteCount - skip, buf.length - done);
      skip = 0;
      while (left > 0) {
        const pfn = range.pfns[Math.floor(pos / PAGE_SIZE)];
        if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= PFN_LIMIT) return false;
        const page = pages.page(pfn);
        if (!page) return false;
        const at = pos % PAGE_SIZE;
        const n = Math.min(left, PAGE_SIZE - at);
        if (pass === 1) {
          if (toGuest) {
            page.set(buf.subarray(done, done + n), at);
            if (written === 0 || touched[written - 1] !== pfn) {
              if (written === touched.length) touched = growTouched(touched);
              touched[written++] = pfn;
            }
          } else {
            buf.set(page.subarray(at, at + n), done);
          }
        }
        pos += n; done += n; left -= n;
      }
    }
    if (done < buf.length) return false;
  }
  if (written > 0) pages.written?.(touched, written);
  return true;
}

/** The pages one copy wrote (reused: copies are synchronous and do not nest). */
let touched: Float64Array<ArrayBuffer> = new Float64Array(64);
function growTouched(t: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const g = new Float64Array(t.length * 2);
  g.set(t);
  return g;
}

/** True when every page frame of the ranges is the partition's RAM. */
export function rangesInRam(pages: GuestPages, ranges: readonly PageRange[]): boolean {
  for (let r = 0; r < ranges.length; r++) {
    const pfns = ranges[r].pfns;
    for (let k = 0; k < pfns.length; k++) {
      const pfn = pfns[k];
      if (pfn >= PFN_LIMIT || pages.page(pfn) === null) return false;
    }
  }
  return true;
}
