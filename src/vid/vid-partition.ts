// A child partition as the root manages it: RAM taken from the root's pages and mapped at GPA 0, VPs,
// intercepts routed to a handler, guest memory access, and teardown that gives the pages back to the root.
import {
  DispatchOutcome, HvInterruptType, HvRegister, InterceptAccess, InterceptType, MapGpaFlags, PartitionProperty, Privilege,
  type InterceptHandler, type InterceptMessage, type RegisterValue, type CpuidLeaf, type SynicEventHandler,
  type SynicMessageHandler, type WinHv,
} from '../winhv/index.js';
import { GuestMemory } from './guest-memory.js';
import { VidError } from './vid-error.js';
import { initialStateRegisters, type X64InitialState } from './x64-state.js';

const PAGE = 4096;

export interface VidPartitionConfig {
  /** Guest RAM in bytes (a multiple of 4 KiB), mapped at GPA 0. */
  memoryBytes: number;
  /** Number of VPs (default 1). */
  vpCount?: number;
  /**
   * Give the guest the SynIC: its MSRs (AccessSynicRegs), the synthetic timers (AccessSyntheticTimerRegs),
   * HvCallPostMessage and HvCallSignalEvent. Set when the
   * root will serve VMBus for this partition; without a server behind its connections a guest could only wait.
   */
  synic?: boolean;
}

/**
 * The privileges `synic` adds to the hypervisor's defaults (CPUID 0x40000003 then reports them): the SynIC, its
 * connections, and the synthetic timers that deliver through it (Linux's clockevent).
 */
const SYNIC_PRIVILEGES = (1n << BigInt(Privilege.ACCESS_SYNIC_MSRS)) | (1n << BigInt(Privilege.ACCESS_SYNTHETIC_TIMER_MSRS))
  | (1n << BigInt(Privilege.POST_MESSAGES)) | (1n << BigInt(Privilege.SIGNAL_EVENTS));

/**
 * The root's side of the partition's SynIC (the shape of src/vmbus's SynicPort, which VID does not import).
 * Statuses are HvStatus values.
 */
export interface VidSynicPort {
  postMessage(vpIndex: number, sint: number, type: number, payload: Uint8Array): number;
  signalEvent(vpIndex: number, sint: number, flag: number): number;
  setMessageHandler(connectionId: number, handler: SynicMessageHandler | null): boolean;
  setEventHandler(connectionId: number, flagCount: number, handler: SynicEventHandler | null): boolean;
}

/** Guest RAM page by page (the shape of src/vmbus's GuestPages): the root's 4 KiB behind a guest page frame. */
export interface VidGuestPages {
  page(pfn: number): Uint8Array | null;
  /** The root wrote pages pfns[0..count) through page(): the VPs drop code they decoded from them. */
  written(pfns: ArrayLike<number>, count: number): void;
}

/** How VidPartition.assertInterrupt addresses and triggers an interrupt. */
export interface InterruptOptions {
  /** HvInterruptType (default FIXED). */
  type?: number;
  /** APIC ID (physical) or logical destination (default 0: the boot VP). */
  destination?: number;
  logical?: boolean;
  levelTriggered?: boolean;
}

export class VidPartition {
  readonly memory: GuestMemory;
  readonly vpCount: number;
  private deleted = false;

  private constructor(private readonly winhv: WinHv, readonly id: number, private readonly ramPages: Int32Array, vpCount: number) {
    this.memory = new GuestMemory(winhv, id, ramPages);
    this.vpCount = vpCount;
  }

  static create(winhv: WinHv, config: VidPartitionConfig): VidPartition {
    const { memoryBytes } = config;
    const vpCount = config.vpCount ?? 1;
    if (!Number.isSafeInteger(memoryBytes) || memoryBytes <= 0 || memoryBytes % PAGE !== 0) {
      throw new VidError(`guest memory must be a positive multiple of 4 KiB (got ${memoryBytes})`);
    }
    if (!Number.isInteger(vpCount) || vpCount < 1 || vpCount > 64) throw new VidError(`VP count must be 1..64 (got ${vpCount})`);
    const pages = winhv.pages.allocate(memoryBytes / PAGE);
    if (pages === null) {
      throw new VidError(`not enough root memory for ${memoryBytes} bytes of guest RAM (${winhv.pages.freeCount * PAGE} bytes free)`);
    }
    // Pages may hold a previous partition's data: a child must never see another's memory.
    for (let i = 0; i < pages.length; i++) winhv.memory.fill(0, pages[i] * PAGE, pages[i] * PAGE + PAGE);
    let id = -1;
    try {
      id = winhv.createPartition();
      // Privileges are settable only before the partition is initialized.
      if (config.synic === true) {
        const priv = winhv.getPartitionProperty(id, PartitionProperty.PRIVILEGE_FLAGS);
        winhv.setPartitionProperty(id, PartitionProperty.PRIVILEGE_FLAGS, priv | SYNIC_PRIVILEGES);
      }
      winhv.initializePartition(id);
      winhv.mapGpaPages(id, 0, MapGpaFlags.READABLE | MapGpaFlags.WRITABLE | MapGpaFlags.EXECUTABLE, pages);
      for (let v = 0; v < vpCount; v++) winhv.createVp(id, v);
    } catch (e) {
      if (id >= 0) winhv.deletePartition(id);
      winhv.pages.release(pages);
      throw e;
    }
    return new VidPartition(winhv, id, pages, vpCount);
  }

  get memoryBytes(): number {
    return this.ramPages.length * PAGE;
  }

  // ------------------------------------------------------------ processor state

  setInitialState(vp: number, state: X64InitialState): void {
    this.winhv.setVpRegisters(this.id, vp, initialStateRegisters(state));
  }

  getRegisters(vp: number, names: number[]): RegisterValue[] {
    return this.winhv.getVpRegisters(this.id, vp, names);
  }

  setRegisters(vp: number, entries: [number, RegisterValue][]): void {
    this.winhv.setVpRegisters(this.id, vp, entries);
  }

  /** VP `vp`'s reference time: 100 ns units of virtual time since the partition started (HvRegisterTimeRefCount). */
  referenceTime(vp: number): number {
    return Number(this.getRegisters(vp, [HvRegister.TimeRefCount])[0] as bigint);
  }

  /**
   * Move VP `vp`'s clock forward to `referenceTime` (100 ns units); the hypervisor refuses a step back. Timers
   * that fall due in the jump fire at the VP's next instruction boundary.
   */
  setReferenceTime(vp: number, referenceTime: number): void {
    this.setRegisters(vp, [[HvRegister.TimeRefCount, BigInt(referenceTime)]]);
  }

  /** RIP, RSP, RFLAGS and CR0/CR3/CR4 as hex strings, for error messages and tracing. */
  describeVp(vp: number): Record<string, string> {
    const names = { rip: HvRegister.Rip, rsp: HvRegister.Rsp, rflags: HvRegister.Rflags, cr0: HvRegister.Cr0, cr3: HvRegister.Cr3 };
    const values = this.getRegisters(vp, Object.values(names));
    const out: Record<string, string> = {};
    Object.keys(names).forEach((k, i) => { out[k] = '0x' + (values[i] as bigint).toString(16); });
    return out;
  }

  setCpuid(leaves: CpuidLeaf[]): void {
    this.winhv.setCpuidLeaves(this.id, leaves);
  }

  // ------------------------------------------------------------ intercepts and running

  installIoIntercept(port: number, access = InterceptAccess.READ | InterceptAccess.WRITE): void {
    this.winhv.installIntercept(this.id, InterceptType.X64_IO_PORT, access, port);
  }

  installMsrIntercept(msr: number, access = InterceptAccess.READ | InterceptAccess.WRITE): void {
    this.winhv.installIntercept(this.id, InterceptType.X64_MSR_INDEX, access, msr);
  }

  setInterceptHandler(handler: InterceptHandler | null): void {
    this.winhv.setInterceptHandler(this.id, handler);
  }

  interceptMessage(vp: number): InterceptMessage | null {
    return this.winhv.interceptMessage(this.id, vp);
  }

  /**
   * Raise an interrupt in the guest's local APIC(s), as an interrupt controller's message would: `vector` to
   * the APIC with ID `destination` (or the logical destination, with `logical`), fixed delivery unless `type`
   * says otherwise (an HvInterruptType). Level-triggered vectors come back as HvMessageTypeX64ApicEoi
   * intercepts when the guest EOIs them.
   */
  assertInterrupt(vector: number, opts: InterruptOptions = {}): void {
    this.winhv.assertVirtualInterrupt(this.id, opts.type ?? HvInterruptType.FIXED, vector, opts.destination ?? 0,
      opts.logical ?? false, opts.levelTriggered ?? false);
  }

  /** Run a VP for a slice of virtual time (100 ns units). The outcome object is reused. */
  run(vp: number, timeSlice100ns: number, flags = 0): DispatchOutcome {
    return this.winhv.dispatchVp(this.id, vp, timeSlice100ns, flags);
  }

  // ------------------------------------------------------------ SynIC and guest pages (for VMBus)

  /** The root's handle on this partition's SynIC (meaningful when created with `synic`). */
  synicPort(): VidSynicPort {
    const { winhv, id } = this;
    return {
      postMessage: (vp, sint, type, payload) => winhv.postSynicMessage(id, vp, sint, type, payload),
      signalEvent: (vp, sint, flag) => winhv.signalSynicEvent(id, vp, sint, flag),
      setMessageHandler: (conn, handler) => winhv.setSynicMessageHandler(id, conn, handler),
      setEventHandler: (conn, count, handler) => winhv.setSynicEventHandler(id, conn, count, handler),
    };
  }

  /**
   * Guest RAM by page frame, for VMBus rings and GPADLs: the root page VID mapped at that GPA page, or null
   * outside RAM. A writer that may overwrite code the guest runs (a disk read into the page cache of a file
   * the guest then executes) reports the pages to written(), as a DMA write would be seen by a processor.
   * Ring buffer writes do not: a guest executing from its own ring pages only harms itself.
   */
  guestPages(): VidGuestPages {
    const mem = this.winhv.memory, pages = this.ramPages, winhv = this.winhv, id = this.id;
    return {
      page: (pfn) => {
        if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= pages.length || this.deleted) return null;
        const at = pages[pfn] * PAGE;
        return mem.subarray(at, at + PAGE);
      },
      written: (pfns, count) => {
        if (count > 0 && !this.deleted) winhv.flushGpaPages(id, pfns, count);
      },
    };
  }

  // ------------------------------------------------------------ teardown

  /** Unmap the RAM, delete the partition and give the pages back to the root. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.winhv.setInterceptHandler(this.id, null);
    this.winhv.unmapGpaPages(this.id, 0, this.ramPages.length);
    this.winhv.finalizePartition(this.id);
    this.winhv.deletePartition(this.id);
    this.winhv.pages.release(this.ramPages);
  }

  inspect(): Record<string, unknown> {
    return { id: this.id, memoryBytes: this.memoryBytes, vpCount: this.vpCount, deleted: this.deleted };
  }
}
