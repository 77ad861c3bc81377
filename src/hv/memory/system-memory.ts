// System physical memory (SPA): one fixed-size WebAssembly.Memory. Guest RAM pages and every VP's state page
// are views of it, so a later WebAssembly JIT can share them with the interpreter. The VP addresses it with
// int32 byte offsets, hence the 2 GiB ceiling.

export const PAGE_SIZE = 4096;
const WASM_PAGE = 65536;
/** Largest size whose byte offsets all fit in an int32 (the VP engine's host offsets). */
export const MAX_SYSTEM_MEMORY = 2 ** 31 - WASM_PAGE;

export class SystemMemoryError extends Error {}

/**
 * A page allocator over a range of SPA pages. The hypervisor uses one for its own pool (VP state pages,
 * intercept message pages); the root's pages are the root's business.
 */
export class PageAllocator {
  private readonly free: Int32Array;
  private top = 0;
  private readonly owned: Uint8Array;

  constructor(readonly firstPage: number, readonly pageCount: number) {
    this.free = new Int32Array(pageCount);
    this.owned = new Uint8Array(pageCount);
    // Hand out low pages first (stack order).
    for (let i = pageCount - 1; i >= 0; i--) this.free[this.top++] = firstPage + i;
  }

  get freeCount(): number {
    return this.top;
  }

  /** An SPA page number, or -1 when the pool is empty. */
  allocate(): number {
    if (this.top === 0) return -1;
    const p = this.free[--this.top];
    this.owned[p - this.firstPage] = 1;
    return p;
  }

  release(page: number): void {
    const k = page - this.firstPage;
    if (k < 0 || k >= this.pageCount || this.owned[k] === 0) throw new RangeError(`page ${page} is not allocated from this pool`);
    this.owned[k] = 0;
    this.free[this.top++] = page;
  }
}

export class SystemMemory {
  readonly memory: WebAssembly.Memory;
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly view: DataView;
  readonly pageCount: number;

  constructor(readonly byteLength: number) {
    if (!Number.isSafeInteger(byteLength) || byteLength <= 0 || byteLength % WASM_PAGE !== 0) {
      throw new SystemMemoryError(`system memory must be a positive multiple of 64 KiB (got ${byteLength})`);
    }
    if (byteLength > MAX_SYSTEM_MEMORY) {
      throw new SystemMemoryError(`system memory of ${byteLength} bytes exceeds the ${MAX_SYSTEM_MEMORY} byte limit (the VP uses int32 host offsets)`);
    }
    const pages = byteLength / WASM_PAGE;
    // Fixed size (initial = maximum): growing would detach the buffer every VP holds views of.
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.buffer = this.memory.buffer;
    this.u8 = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.pageCount = byteLength / PAGE_SIZE;
  }
}
