// A child partition as the root manages it: RAM taken from the root's pages and mapped at GPA 0, VPs,
// intercepts routed to a handler, guest memory access, and teardown that gives the pages back to the root.
import {
  DispatchOutcome, HvInterruptType, HvRegister, InterceptAccess, InterceptType, MapGpaFlags, type InterceptHandler,
  type InterceptMessage, type RegisterValue, type CpuidLeaf, type WinHv,
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
