// A partition's second-level address translation: GPA page -> SPA page with access rights, the structure the
// VP engine reads on every TLB fill (SecondLevelMap). The hypervisor alone writes it.
import { GPA_EXEC, GPA_READ, GPA_WRITE, type SecondLevelMap } from '../../vp/index.js';

export const RIGHTS_RWX = GPA_READ | GPA_WRITE | GPA_EXEC;

export class GpaMap implements SecondLevelMap {
  readonly spaPage: Int32Array;
  readonly rights: Uint8Array;
  private mapped = 0;

  constructor(readonly pageCount: number) {
    this.spaPage = new Int32Array(pageCount).fill(-1);
    this.rights = new Uint8Array(pageCount);
  }

  get mappedCount(): number {
    return this.mapped;
  }

  isMapped(gpaPage: number): boolean {
    return gpaPage >= 0 && gpaPage < this.pageCount && this.spaPage[gpaPage] >= 0;
  }

  map(gpaPage: number, spaPage: number, rights: number): void {
    if (this.spaPage[gpaPage] < 0) this.mapped++;
    this.spaPage[gpaPage] = spaPage;
    this.rights[gpaPage] = rights;
  }

  /** Returns the SPA page that was mapped, or -1. */
  unmap(gpaPage: number): number {
    const spa = this.spaPage[gpaPage];
    if (spa >= 0) {
      this.mapped--;
      this.spaPage[gpaPage] = -1;
      this.rights[gpaPage] = 0;
    }
    return spa;
  }

  /**
   * Host byte offset of `length` bytes at `gpa` if they lie in one page mapped with `right`, else -1.
   * Hypercall parameters never cross a page (TLFS), so one translation covers them.
   */
  hostOffset(gpa: number, length: number, right: number): number {
    if (!(gpa >= 0) || length < 0) return -1;
    const page = Math.floor(gpa / 4096);
    const off = gpa - page * 4096;
    if (off + length > 4096 || page >= this.pageCount) return -1;
    const spa = this.spaPage[page];
    if (spa < 0 || (this.rights[page] & right) !== right) return -1;
    return spa * 4096 + off;
  }
}
