// The root partition's own page allocator over the GPA range the hypervisor gave it (the root OS's memory
// manager, reduced to what the virtualization stack needs: pages for hypercall parameters and guest RAM).

export class RootPageAllocator {
  private readonly free: Int32Array;
  private top = 0;
  private readonly used: Uint8Array;

  constructor(readonly firstPage: number, readonly pageCount: number) {
    this.free = new Int32Array(pageCount);
    this.used = new Uint8Array(pageCount);
    for (let i = pageCount - 1; i >= 0; i--) this.free[this.top++] = firstPage + i;
  }

  get freeCount(): number {
    return this.top;
  }

  /** `count` page numbers, or null (and nothing allocated) when there are not that many free. */
  allocate(count: number): Int32Array | null {
    if (!Number.isInteger(count) || count < 0 || count > this.top) return null;
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const p = this.free[--this.top];
      this.used[p - this.firstPage] = 1;
      out[i] = p;
    }
    return out;
  }

  release(pages: ArrayLike<number>): void {
    for (let i = 0; i < pages.length; i++) {
      const k = pages[i] - this.firstPage;
      if (k < 0 || k >= this.pageCount || this.used[k] === 0) throw new RangeError(`root page ${pages[i]} is not allocated`);
      this.used[k] = 0;
      this.free[this.top++] = pages[i];
    }
  }
}
