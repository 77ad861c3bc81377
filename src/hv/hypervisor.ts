// The hypervisor: sole owner of system physical memory and of virtual processors. It is started with a fixed
// amount of SPA memory, keeps a small pool of it for itself (VP state pages, intercept message pages, the
// fast-hypercall input page) and gives the rest to the root partition, whose GPA space is the identity over
// those pages. Everything else happens through hypercalls.
import { GpaMap, MAX_SYSTEM_MEMORY, PageAllocator, RIGHTS_RWX, SystemMemory, SystemMemoryError } from './memory/index.js';
import { HypercallDispatcher } from './hypercall/dispatcher.js';
import { Partition, PartitionState, type InterceptHandler } from './partition.js';
import { PrivilegeMask, ROOT_PRIVILEGES } from './privileges.js';
import { CHILD_DEFAULT_PRIVILEGES } from './enlightenments/index.js';
import { VirtualProcessor } from './virtual-processor.js';
import type { InterceptMessage } from './intercept-message.js';
import { HvStatus } from './hypercall/codes.js';
import type { SynicConnections } from './synic/index.js';

export interface HypervisorOptions {
  /** Bytes of system physical memory (a multiple of 64 KiB, at most MAX_SYSTEM_MEMORY). */
  memoryBytes: number;
  /** Bytes kept by the hypervisor for VP state and message pages (default 1 MiB: 127 VPs). */
  poolBytes?: number;
  /** Size of each child's GPA space in pages (default 4 GiB worth: RAM below 4 GiB plus device space). */
  childGpaPages?: number;
  /** Most child partitions alive at once (default 64). */
  maxPartitions?: number;
}

export const ROOT_PARTITION_ID = 1;

/** What the root partition sees of the hypervisor: its memory, the hypercall entry and message delivery. */
export interface RootInterface {
  /** System memory; the root may touch only the pages of its own range (its GPA == SPA). */
  readonly memory: WebAssembly.Memory;
  readonly rootFirstPage: number;
  readonly rootPageCount: number;
  /** Enter the hypervisor: (control, input GPA, output GPA) as int32 halves; the result is left in result. */
  hypercall(ctlLo: number, ctlHi: number, inLo: number, inHi: number, outLo: number, outHi: number): void;
  readonly result: Int32Array;
  /**
   * Register the root's synchronous intercept handler for a child (Hyper-V delivers intercepts to the root
   * as messages and suspends the VP until the root completes them; here the delivery is a call).
   */
  setInterceptHandler(partitionId: number, handler: InterceptHandler | null): boolean;
  /** A VP's intercept message page (Hyper-V: HvCallMapVpStatePage with the intercept message type). */
  interceptMessage(partitionId: number, vpIndex: number): InterceptMessage | null;
  /**
   * SynIC, root to child: post a message (type, payload of at most 240 bytes) to SINT `sint` of a child's VP.
   * It lands in the SINT's slot when that is free, else it queues (MessagePending) until the guest's EOM.
   * Returns an HV status (INVALID_PARTITION_ID / INVALID_VP_INDEX / INVALID_PARAMETER / INSUFFICIENT_BUFFERS).
   */
  postSynicMessage(partitionId: number, vpIndex: number, sint: number, type: number, payload: Uint8Array): number;
  /** SynIC, root to child: set event flag `flag` of SINT `sint` on a child's VP and interrupt it. */
  signalSynicEvent(partitionId: number, vpIndex: number, sint: number, flag: number): number;
  /** Where a child's HvCallPostMessage / HvCallSignalEvent go: the root registers handlers by connection id. */
  synicConnections(partitionId: number): SynicConnections | null;
  inspect(): Record<string, unknown>;
}

export class Hypervisor {
  readonly memory: SystemMemory;
  readonly pool: PageAllocator;
  readonly root: Partition;
  readonly partitions = new Map<number, Partition>();
  readonly dispatcher: HypercallDispatcher;
  readonly childGpaPages: number;
  private readonly maxPartitions: number;
  /** Per SPA page: how many child GPA pages map it. */
  private readonly childMappings: Uint16Array;
  private childMappedPages = 0;
  private nextId = ROOT_PARTITION_ID + 1;
  private rootIf: RootInterface | null = null;

  constructor(opts: HypervisorOptions) {
    const poolBytes = opts.poolBytes ?? 1 << 20;
    if (opts.memoryBytes > MAX_SYSTEM_MEMORY) {
      throw new SystemMemoryError(`system memory of ${opts.memoryBytes} bytes is above the ${MAX_SYSTEM_MEMORY} byte limit (the VP uses int32 host offsets)`);
    }
    if (poolBytes % 4096 !== 0 || poolBytes < 3 * 4096 || poolBytes >= opts.memoryBytes) {
      throw new SystemMemoryError(`hypervisor pool of ${poolBytes} bytes does not fit in ${opts.memoryBytes} bytes of system memory`);
    }
    const childGpaPages = opts.childGpaPages ?? (4 * 2 ** 30) / 4096;
    if (!Number.isInteger(childGpaPages) || childGpaPages < 1 || childGpaPages > 2 ** 20) {
      throw new SystemMemoryError(`child GPA space of ${childGpaPages} pages is outside 1 .. 2^20 (4 GiB)`);
    }
    this.memory = new SystemMemory(opts.memoryBytes);
    this.childGpaPages = childGpaPages;
    this.maxPartitions = opts.maxPartitions ?? 64;
    const poolPages = poolBytes / 4096;
    this.pool = new PageAllocator(0, poolPages);
    const fastPage = this.pool.allocate();
    this.dispatcher = new HypercallDispatcher(this, fastPage * 4096);
    this.childMappings = new Uint16Array(this.memory.pageCount);
    // The root's GPA space: identity over every SPA page outside the hypervisor's pool.
    const rootMap = new GpaMap(this.memory.pageCount);
    for (let p = poolPages; p < this.memory.pageCount; p++) rootMap.map(p, p, RIGHTS_RWX);
    this.root = new Partition(ROOT_PARTITION_ID, null, new PrivilegeMask(ROOT_PRIVILEGES.lo, ROOT_PRIVILEGES.hi), rootMap, 0);
    this.root.state = PartitionState.INITIALIZED;
    this.partitions.set(this.root.id, this.root);
  }

  /** The root partition's view (WinHv connects through it). */
  rootInterface(): RootInterface {
    if (this.rootIf !== null) return this.rootIf;
    const result = new Int32Array(2);
    const poolPages = this.pool.pageCount;
    const rootIf: RootInterface = {
      memory: this.memory.memory,
      rootFirstPage: poolPages,
      rootPageCount: this.memory.pageCount - poolPages,
      result,
      hypercall: (ctlLo, ctlHi, inLo, inHi, outLo, outHi) => {
        this.root.counters.hypercalls++;
        this.dispatcher.call(this.root, ctlLo, ctlHi, inLo, inHi, outLo, outHi);
        result[0] = this.dispatcher.resultLo;
        result[1] = this.dispatcher.resultHi;
      },
      setInterceptHandler: (id, handler) => {
        const p = this.partitions.get(id);
        if (p === undefined || p.parent !== this.root) return false;
        p.interceptHandler = handler;
        return true;
      },
      interceptMessage: (id, vpIndex) => {
        const p = this.partitions.get(id);
        if (p === undefined || p.parent !== this.root) return null;
        return p.vps[vpIndex]?.message ?? null;
      },
      postSynicMessage: (id, vpIndex, sint, type, payload) => {
        const vp = this.childVp(id, vpIndex);
        return typeof vp === 'number' ? vp : vp.synic.post(sint, type, payload);
      },
      signalSynicEvent: (id, vpIndex, sint, flag) => {
        const vp = this.childVp(id, vpIndex);
        return typeof vp === 'number' ? vp : vp.synic.signal(sint, flag);
      },
      synicConnections: (id) => {
        const p = this.partitions.get(id);
        return p === undefined || p.parent !== this.root ? null : p.synicConnections;
      },
      inspect: () => this.inspect(),
    };
    this.rootIf = rootIf;
    return rootIf;
  }

  /** A VP of one of the root's children, or the HV status naming what is wrong. */
  private childVp(partitionId: number, vpIndex: number): VirtualProcessor | number {
    const p = this.partitions.get(partitionId);
    if (p === undefined || p.parent !== this.root) return HvStatus.INVALID_PARTITION_ID;
    const vp = Number.isInteger(vpIndex) && vpIndex >= 0 ? p.vps[vpIndex] : undefined;
    return vp === undefined ? HvStatus.INVALID_VP_INDEX : vp;
  }

  // ------------------------------------------------------------ used by the hypercall handlers

  newChildPartition(parent: Partition, creationFlags: number): Partition | null {
    if (this.partitions.size - 1 >= this.maxPartitions) return null;
    // A child starts with every implemented guest feature (the root may narrow them before initializing it).
    const priv = new PrivilegeMask(CHILD_DEFAULT_PRIVILEGES.lo, CHILD_DEFAULT_PRIVILEGES.hi);
    const p = new Partition(this.nextId++, parent, priv, new GpaMap(this.childGpaPages), creationFlags);
    this.partitions.set(p.id, p);
    return p;
  }

  /** Create a VP with a state page and an intercept message page from the pool. */
  newVp(p: Partition, index: number): boolean {
    if (this.pool.freeCount < 2) return false;
    const state = this.pool.allocate(), msg = this.pool.allocate();
    this.memory.u8.fill(0, state * 4096, state * 4096 + 8192 - 4096);
    this.memory.u8.fill(0, msg * 4096, msg * 4096 + 4096);
    while (p.vps.length <= index) p.vps.push(undefined);
    p.vps[index] = new VirtualProcessor(p, index, state, msg, this.memory.buffer, this.dispatcher);
    return true;
  }

  /** Tear a child down: unmap every GPA page (the pages stay the root's) and return VP pages to the pool. */
  destroyPartition(p: Partition): void {
    const map = p.map;
    for (let g = 0; g < map.pageCount; g++) {
      if (map.spaPage[g] >= 0) this.noteChildMapping(map.unmap(g), -1);
    }
    for (const vp of p.vps) {
      if (vp === undefined) continue;
      this.pool.release(vp.statePage);
      this.pool.release(vp.messagePage);
    }
    p.vps.length = 0;
    p.interceptHandler = null;
    p.state = PartitionState.DELETED;
    this.partitions.delete(p.id);
  }

  noteChildMapping(spaPage: number, delta: number): void {
    const before = this.childMappings[spaPage];
    this.childMappings[spaPage] = before + delta;
    if (before === 0 && delta > 0) this.childMappedPages++;
    else if (before + delta === 0 && delta < 0) this.childMappedPages--;
  }

  /** SPA pages currently mapped into at least one child. */
  get pagesMappedIntoChildren(): number {
    return this.childMappedPages;
  }

  inspect(): Record<string, unknown> {
    return {
      memory: {
        bytes: this.memory.byteLength,
        pages: this.memory.pageCount,
        hypervisorPoolPages: this.pool.pageCount,
        hypervisorPoolFree: this.pool.freeCount,
        rootPages: this.memory.pageCount - this.pool.pageCount,
        pagesMappedIntoChildren: this.childMappedPages,
      },
      partitions: [...this.partitions.values()].map((p) => p.inspect()),
    };
  }
}
