// WinHv: the root's typed client for the hypercall API. It builds TLFS input structures in a pair of root pages
// (input, output), enters the hypervisor, decodes the output and turns failures into HvError. Nothing else in
// the root touches the hypervisor.
import {
  AssertInterruptIn, Control, CpuidLeafLayout, CPUID_LEAF_SUBLEAF_SPECIFIC, CreateVpIn, DispatchVpIn, DispatchVpOut, FlushGpaListIn,
  GET_REGISTERS_REP_IN, GET_REGISTERS_REP_OUT, HvCall, HvStatus, Hypervisor, InstallInterceptIn, MapGpaPagesIn,
  RegisterAssoc, SegmentValueLayout, SetCpuidIn, SetPartitionPropertyIn, TableValueLayout, UnmapGpaPagesIn,
  VpRegistersIn, type HypervisorOptions, type InterceptHandler, type InterceptMessage, type RootInterface,
} from '../hv/index.js';
import { HvError } from './hv-error.js';
import { RootPageAllocator } from './root-pages.js';

export interface SegmentRegister { base: bigint; limit: number; selector: number; attributes: number }
export interface TableRegister { base: bigint; limit: number }
export type RegisterValue = bigint | SegmentRegister | TableRegister;

export interface CpuidLeaf {
  leaf: number;
  /** When set, the result applies to this ECX value only. */
  subleaf?: number;
  eax: number; ebx: number; ecx: number; edx: number;
}

/** HvCallDispatchVp's answer (reused between calls). */
export class DispatchOutcome {
  state = 0;
  event = 0;
}

const PAGE = 4096;

function isSegment(name: number): boolean {
  return name >= 0x00060000 && name <= 0x00060007;
}
function isTable(name: number): boolean {
  return name === 0x00070000 || name === 0x00070001;
}

/** Serves a child's HvCallPostMessage on one connection: the message type and a payload view valid only during the call; returns the guest's HvStatus. */
export type SynicMessageHandler = (type: number, payload: Uint8Array) => number;
/** Serves a child's HvCallSignalEvent on one connection. */
export type SynicEventHandler = (flag: number) => void;
type SynicConnections = NonNullable<ReturnType<RootInterface['synicConnections']>>;

export class WinHv {
  readonly pages: RootPageAllocator;
  /** The root's view of system memory (root GPA == SPA). */
  readonly memory: Uint8Array;
  readonly view: DataView;
  private readonly inPage: number;
  private readonly outPage: number;
  private readonly dispatchOut = new DispatchOutcome();

  private constructor(private readonly root: RootInterface) {
    this.memory = new Uint8Array(root.memory.buffer);
    this.view = new DataView(root.memory.buffer);
    this.pages = new RootPageAllocator(root.rootFirstPage, root.rootPageCount);
    const io = this.pages.allocate(2);
    if (io === null) throw new Error('the root has no memory for hypercall parameter pages');
    this.inPage = io[0];
    this.outPage = io[1];
  }

  /** Start a hypervisor on this machine and connect to it as its root partition. */
  static boot(opts: HypervisorOptions): WinHv {
    return new WinHv(new Hypervisor(opts).rootInterface());
  }

  static connect(root: RootInterface): WinHv {
    return new WinHv(root);
  }

  // ------------------------------------------------------------ the call itself

  private get inOff(): number { return this.inPage * PAGE; }
  private get outOff(): number { return this.outPage * PAGE; }

  /** Issue a memory-form call with the parameters already in the input page; throws HvError on failure. */
  private call(code: number, repCount = 0, repStart = 0): void {
    const inGpa = this.inPage * PAGE, outGpa = this.outPage * PAGE;
    const ctlHi = repCount | (repStart << Control.REP_START_SHIFT);
    this.root.hypercall(code, ctlHi, inGpa, 0, outGpa, 0);
    const status = this.root.result[0] & 0xffff;
    if (status !== HvStatus.SUCCESS) throw new HvError(code, status, this.root.result[1] & 0xfff);
  }

  private clearInput(bytes: number): void {
    this.memory.fill(0, this.inOff, this.inOff + bytes);
  }

  private putId(off: number, id: number): void {
    this.view.setUint32(this.inOff + off, id >>> 0, true);
    this.view.setUint32(this.inOff + off + 4, 0, true);
  }

  // ------------------------------------------------------------ partitions

  createPartition(flags = 0): number {
    this.clearInput(56);
    this.view.setUint32(this.inOff, flags >>> 0, true);
    this.call(HvCall.CreatePartition);
    return this.view.getUint32(this.outOff, true);
  }

  private partitionOnly(code: number, id: number): void {
    this.clearInput(8);
    this.putId(0, id);
    this.call(code);
  }

  initializePartition(id: number): void { this.partitionOnly(HvCall.InitializePartition, id); }
  finalizePartition(id: number): void { this.partitionOnly(HvCall.FinalizePartition, id); }
  deletePartition(id: number): void { this.partitionOnly(HvCall.DeletePartition, id); }

  getPartitionProperty(id: number, code: number): bigint {
    this.clearInput(16);
    this.putId(0, id);
    this.view.setUint32(this.inOff + 8, code >>> 0, true);
    this.call(HvCall.GetPartitionProperty);
    return this.view.getBigUint64(this.outOff, true);
  }

  setPartitionProperty(id: number, code: number, value: bigint): void {
    this.clearInput(24);
    this.putId(0, id);
    this.view.setUint32(this.inOff + SetPartitionPropertyIn.propertyCode, code >>> 0, true);
    this.view.setBigUint64(this.inOff + SetPartitionPropertyIn.value, value, true);
    this.call(HvCall.SetPartitionProperty);
  }

  installIntercept(id: number, type: number, access: number, parameter = 0): void {
    this.clearInput(24);
    this.putId(0, id);
    this.view.setUint32(this.inOff + InstallInterceptIn.accessType, access >>> 0, true);
    this.view.setUint32(this.inOff + InstallInterceptIn.interceptType, type >>> 0, true);
    this.view.setBigUint64(this.inOff + InstallInterceptIn.parameter, BigInt(parameter), true);
    this.call(HvCall.InstallIntercept);
  }

  setCpuidLeaves(id: number, leaves: CpuidLeaf[]): void {
    const perCall = Math.floor((PAGE - SetCpuidIn.SIZE) / SetCpuidIn.REP_SIZE);
    for (let at = 0; at < leaves.length; at += perCall) {
      const chunk = leaves.slice(at, at + perCall);
      this.clearInput(SetCpuidIn.SIZE + chunk.length * SetCpuidIn.REP_SIZE);
      this.putId(0, id);
      chunk.forEach((l, i) => {
        const e = this.inOff + SetCpuidIn.SIZE + i * SetCpuidIn.REP_SIZE;
        this.view.setUint32(e + CpuidLeafLayout.leaf, l.leaf >>> 0, true);
        this.view.setUint32(e + CpuidLeafLayout.subleaf, (l.subleaf ?? 0) >>> 0, true);
        this.view.setUint32(e + CpuidLeafLayout.flags, l.subleaf === undefined ? 0 : CPUID_LEAF_SUBLEAF_SPECIFIC, true);
        this.view.setUint32(e + CpuidLeafLayout.eax, l.eax >>> 0, true);
        this.view.setUint32(e + CpuidLeafLayout.ebx, l.ebx >>> 0, true);
        this.view.setUint32(e + CpuidLeafLayout.ecx, l.ecx >>> 0, true);
        this.view.setUint32(e + CpuidLeafLayout.edx, l.edx >>> 0, true);
      });
      this.call(HvCall.HypatiaSetCpuidLeaves, chunk.length);
    }
  }

  // ------------------------------------------------------------ memory

  /** Map root pages `sources[k]` at child GPA pages `gpaPage + k` with HV_MAP_GPA_* flags. */
  mapGpaPages(id: number, gpaPage: number, flags: number, sources: ArrayLike<number>): void {
    const perCall = Math.floor((PAGE - MapGpaPagesIn.SIZE) / MapGpaPagesIn.REP_SIZE);
    for (let at = 0; at < sources.length; at += perCall) {
      const n = Math.min(perCall, sources.length - at);
      this.clearInput(MapGpaPagesIn.SIZE);
      this.putId(MapGpaPagesIn.targetPartitionId, id);
      this.view.setBigUint64(this.inOff + MapGpaPagesIn.targetGpaBase, BigInt(gpaPage + at), true);
      this.view.setUint32(this.inOff + MapGpaPagesIn.mapFlags, flags >>> 0, true);
      for (let k = 0; k < n; k++) {
        const e = this.inOff + MapGpaPagesIn.SIZE + k * MapGpaPagesIn.REP_SIZE;
        this.view.setUint32(e, sources[at + k] >>> 0, true);
        this.view.setUint32(e + 4, 0, true);
      }
      this.call(HvCall.MapGpaPages, n);
    }
  }

  unmapGpaPages(id: number, gpaPage: number, count: number): void {
    for (let at = 0; at < count; at += 4095) {
      const n = Math.min(4095, count - at);
      this.clearInput(UnmapGpaPagesIn.SIZE);
      this.putId(UnmapGpaPagesIn.targetPartitionId, id);
      this.view.setBigUint64(this.inOff + UnmapGpaPagesIn.targetGpaBase, BigInt(gpaPage + at), true);
      this.call(HvCall.UnmapGpaPages, n);
    }
  }

  /**
   * Tell the hypervisor the root changed child pages pfns[0..count) (any order; VPs drop cached code there): one
   * HvCallFlushGuestPhysicalAddressList, a range per run of consecutive pages.
   */
  flushGpaPages(id: number, pfns: ArrayLike<number>, count: number): void {
    let reps = 0;
    for (let k = 0; k < count;) {
      const first = pfns[k];
      let n = 1;
      while (k + n < count && n < 2048 && pfns[k + n] === first + n) n++;
      if (reps === 0) {
        this.clearInput(FlushGpaListIn.SIZE + 8);
        this.putId(FlushGpaListIn.addressSpace, id);
      }
      // HV_GPA_PAGE_RANGE: page number in bits 12..63, additional pages in 0..10 (as two halves: no BigInt).
      const e = this.inOff + FlushGpaListIn.SIZE + reps * 8;
      this.view.setUint32(e, (((first % 0x100000) << 12) | (n - 1)) >>> 0, true);
      this.view.setUint32(e + 4, Math.floor(first / 0x100000), true);
      reps++;
      k += n;
      if (reps === 500 || k >= count) {
        this.call(HvCall.FlushGuestPhysicalAddressList, reps);
        reps = 0;
      }
    }
  }

  /** Tell the hypervisor the root changed `count` child pages from `gpaPage` (VPs drop cached code there). */
  flushGpaRange(id: number, gpaPage: number, count: number): void {
    this.clearInput(FlushGpaListIn.SIZE + 8);
    this.putId(FlushGpaListIn.addressSpace, id);
    let reps = 0;
    for (let at = 0; at < count; at += 2048) {
      const n = Math.min(2048, count - at);
      const e = this.inOff + FlushGpaListIn.SIZE + reps * 8;
      this.view.setBigUint64(e, (BigInt(gpaPage + at) << 12n) | BigInt(n - 1), true);
      reps++;
      if (reps === 500 || at + 2048 >= count) {
        this.call(HvCall.FlushGuestPhysicalAddressList, reps);
        reps = 0;
      }
    }
  }

  // ------------------------------------------------------------ virtual processors

  createVp(id: number, vpIndex: number): void {
    this.clearInput(CreateVpIn.SIZE);
    this.putId(CreateVpIn.partitionId, id);
    this.view.setUint32(this.inOff + CreateVpIn.vpIndex, vpIndex >>> 0, true);
    this.call(HvCall.CreateVp);
  }

  private registersHeader(id: number, vpIndex: number): void {
    this.clearInput(VpRegistersIn.SIZE);
    this.putId(VpRegistersIn.partitionId, id);
    this.view.setUint32(this.inOff + VpRegistersIn.vpIndex, vpIndex >>> 0, true);
  }

  getVpRegisters(id: number, vpIndex: number, names: number[]): RegisterValue[] {
    const out: RegisterValue[] = [];
    const perCall = Math.floor((PAGE - VpRegistersIn.SIZE) / GET_REGISTERS_REP_OUT);
    for (let at = 0; at < names.length; at += perCall) {
      const chunk = names.slice(at, at + perCall);
      this.registersHeader(id, vpIndex);
      chunk.forEach((n, i) => this.view.setUint32(this.inOff + VpRegistersIn.SIZE + i * GET_REGISTERS_REP_IN, n >>> 0, true));
      this.call(HvCall.GetVpRegisters, chunk.length);
      chunk.forEach((n, i) => {
        const o = this.outOff + i * GET_REGISTERS_REP_OUT;
        if (isSegment(n)) {
          out.push({
            base: this.view.getBigUint64(o + SegmentValueLayout.base, true), limit: this.view.getUint32(o + SegmentValueLayout.limit, true),
            selector: this.view.getUint16(o + SegmentValueLayout.selector, true), attributes: this.view.getUint16(o + SegmentValueLayout.attributes, true),
          });
        } else if (isTable(n)) {
          out.push({ base: this.view.getBigUint64(o + TableValueLayout.base, true), limit: this.view.getUint16(o + TableValueLayout.limit, true) });
        } else {
          out.push(this.view.getBigUint64(o, true));
        }
      });
    }
    return out;
  }

  setVpRegisters(id: number, vpIndex: number, entries: [number, RegisterValue][]): void {
    const perCall = Math.floor((PAGE - VpRegistersIn.SIZE) / RegisterAssoc.SIZE);
    for (let at = 0; at < entries.length; at += perCall) {
      const chunk = entries.slice(at, at + perCall);
      this.clearInput(VpRegistersIn.SIZE + chunk.length * RegisterAssoc.SIZE);
      this.registersHeader(id, vpIndex);
      chunk.forEach(([name, value], i) => {
        const a = this.inOff + VpRegistersIn.SIZE + i * RegisterAssoc.SIZE;
        const v = a + RegisterAssoc.value;
        this.view.setUint32(a + RegisterAssoc.name, name >>> 0, true);
        if (typeof value === 'bigint') {
          this.view.setBigUint64(v, BigInt.asUintN(64, value), true);
        } else if ('selector' in value) {
          this.view.setBigUint64(v + SegmentValueLayout.base, value.base, true);
          this.view.setUint32(v + SegmentValueLayout.limit, value.limit >>> 0, true);
          this.view.setUint16(v + SegmentValueLayout.selector, value.selector, true);
          this.view.setUint16(v + SegmentValueLayout.attributes, value.attributes, true);
        } else {
          this.view.setUint16(v + TableValueLayout.limit, value.limit, true);
          this.view.setBigUint64(v + TableValueLayout.base, value.base, true);
        }
      });
      this.call(HvCall.SetVpRegisters, chunk.length);
    }
  }

  /** Run a VP for `timeSlice100ns` (virtual time). The returned object is reused by the next call. */
  dispatchVp(id: number, vpIndex: number, timeSlice100ns: number, flags = 0): DispatchOutcome {
    const dv = this.view, o = this.inOff;
    dv.setUint32(o + DispatchVpIn.partitionId, id >>> 0, true);
    dv.setUint32(o + DispatchVpIn.partitionId + 4, 0, true);
    dv.setUint32(o + DispatchVpIn.vpIndex, vpIndex >>> 0, true);
    dv.setUint32(o + DispatchVpIn.flags, flags >>> 0, true);
    dv.setUint32(o + DispatchVpIn.timeSlice, timeSlice100ns >>> 0, true);
    dv.setUint32(o + DispatchVpIn.timeSlice + 4, 0, true);
    dv.setUint32(o + DispatchVpIn.specCtrl, 0, true);
    dv.setUint32(o + DispatchVpIn.specCtrl + 4, 0, true);
    this.call(HvCall.DispatchVp);
    const r = this.dispatchOut;
    r.state = dv.getUint32(this.outOff + DispatchVpOut.state, true);
    r.event = dv.getUint32(this.outOff + DispatchVpOut.event, true);
    return r;
  }

  // ------------------------------------------------------------ interrupts

  /**
   * HvCallAssertVirtualInterrupt: raise `vector` in the child's local APIC(s) that `destination` selects
   * (physical APIC ID, or a logical destination with `logical`). `type` is an HV_X64_INTERRUPT_TYPE_*.
   */
  assertVirtualInterrupt(id: number, type: number, vector: number, destination: number, logical: boolean, levelTriggered: boolean): void {
    const dv = this.view, o = this.inOff;
    this.clearInput(AssertInterruptIn.SIZE);
    this.putId(AssertInterruptIn.partitionId, id);
    dv.setUint32(o + AssertInterruptIn.interruptType, type >>> 0, true);
    dv.setUint32(o + AssertInterruptIn.controlFlags, (levelTriggered ? 1 : 0) | (logical ? 2 : 0), true);
    dv.setUint32(o + AssertInterruptIn.destination, destination >>> 0, true);
    dv.setUint32(o + AssertInterruptIn.vector, vector >>> 0, true);
    this.call(HvCall.AssertVirtualInterrupt);
  }

  // ------------------------------------------------------------ intercepts

  setInterceptHandler(id: number, handler: InterceptHandler | null): void {
    if (!this.root.setInterceptHandler(id, handler)) throw new HvError(0, HvStatus.INVALID_PARTITION_ID);
  }

  interceptMessage(id: number, vpIndex: number): InterceptMessage | null {
    return this.root.interceptMessage(id, vpIndex);
  }

  // ------------------------------------------------------------ SynIC (the transport under VMBus)
  // The root's side of a child's SynIC: deliver messages and event flags into its VPs, and serve the connection
  // ids its HvCallPostMessage / HvCallSignalEvent name. A status, not an exception: a busy or disabled SINT is
  // an ordinary answer (the message queues, or the guest has not enabled its SynIC) that the caller handles.

  /** Post a message into SINT `sint` of a child's VP (queued behind a full slot). Returns an HvStatus. */
  postSynicMessage(id: number, vpIndex: number, sint: number, type: number, payload: Uint8Array): number {
    return this.root.postSynicMessage(id, vpIndex, sint, type, payload);
  }

  /** Set event flag `flag` of SINT `sint` on a child's VP and interrupt it. Returns an HvStatus. */
  signalSynicEvent(id: number, vpIndex: number, sint: number, flag: number): number {
    return this.root.signalSynicEvent(id, vpIndex, sint, flag);
  }

  /** Serve the child's HvCallPostMessage on `connectionId` (null stops). False for an invalid connection id. */
  setSynicMessageHandler(id: number, connectionId: number, handler: SynicMessageHandler | null): boolean {
    return this.synicConnections(id).setMessageHandler(connectionId, handler);
  }

  /** Serve the child's HvCallSignalEvent on `connectionId`, flags 0..flagCount-1 (null stops). */
  setSynicEventHandler(id: number, connectionId: number, flagCount: number, handler: SynicEventHandler | null): boolean {
    return this.synicConnections(id).setEventHandler(connectionId, flagCount, handler);
  }

  private synicConnections(id: number): SynicConnections {
    const c = this.root.synicConnections(id);
    if (c === null) throw new HvError(0, HvStatus.INVALID_PARTITION_ID);
    return c;
  }

  /** The hypervisor's state as JSON (partitions, VPs, memory). */
  inspectHypervisor(): Record<string, unknown> {
    return this.root.inspect();
  }
}
