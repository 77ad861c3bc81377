// The worker: builds one VM from its configuration through VID (a child partition with RAM, one VP, the
// kernel loaded by the firmware with its ACPI tables), hosts its VDevs (COM1, debug-exit, the ACPI PM
// registers) behind I/O intercepts, and runs the VP
// in slices that yield to the event loop so terminal input and signals get through.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DispatchEvent, DispatchState, DispatchVpFlags, HvError, HvMessageType, InterceptAccessType, MAX_SYSTEM_MEMORY, WinHv,
  type InterceptMessage,
} from '../winhv/index.js';
import { VidPartition } from '../vid/index.js';
import { bootKernel, defaultAcpiPlatform, type DirectBoot } from '../firmware/index.js';
import { AcpiPm, COM1_PORT, DEBUG_EXIT_PORT, DebugExit, MmioBus, PortBus, Uart16550 } from '../vdev/index.js';
import { COM1_IRQ, IOAPIC_BASE, IOAPIC_MMIO_SIZE, IoApic } from '../vdev/index.js';
import { SerialConsole, type ConsoleInput, type ConsoleOutput } from './serial-console.js';
import { VmConfigError, type VmConfig } from './vm-config.js';

export type VmExit =
  | { kind: 'debug-exit'; code: number }
  /** ACPI S5 through PM1a_CNT (Linux's poweroff). */
  | { kind: 'power-off' }
  /** The ACPI reset register was written (Linux's reboot): the VM stops; restarting it is not implemented. */
  | { kind: 'reset' }
  | { kind: 'halt'; rip: string }
  | { kind: 'triple-fault'; rip: string }
  | { kind: 'quit' };

/** Root-side memory beside guest RAM: the hypervisor's pool and the root's own pages. */
const SYSTEM_OVERHEAD = (1 << 20) + (1 << 20);
/** The largest guest RAM a worker can give a VM. */
export const MAX_GUEST_MEMORY = Math.floor((MAX_SYSTEM_MEMORY - SYSTEM_OVERHEAD) / (1 << 20)) * (1 << 20);
/** VPs per VM (the ACPI tables describe this many processors). */
const VP_COUNT = 1;
/** One dispatch: 10 ms of virtual time (1 M instructions). */
const SLICE_100NS = 100_000;
/** Wall-clock time to run before yielding to the event loop. */
const YIELD_MS = 15;

export interface WorkerStreams {
  input: ConsoleInput | null;
  output: ConsoleOutput;
  /** Diagnostics (trace output). */
  trace: { write(text: string): unknown };
}

export class VmWorker {
  readonly ports = new PortBus();
  readonly mmio = new MmioBus();
  readonly uart: Uart16550;
  /** The I/O APIC the ACPI MADT describes (id 0 at 0xFEC00000, GSI base 0); COM1 is on pin 4. */
  readonly ioapic: IoApic;
  /** Interrupts the hypervisor refused (a guest-programmed entry the hypercall cannot express). */
  private interruptErrors = 0;
  readonly acpiPm: AcpiPm;
  readonly boot: DirectBoot;
  private readonly console: SerialConsole;
  private exit: VmExit | null = null;
  private readonly winhv: WinHv;
  readonly partition: VidPartition;

  private constructor(config: VmConfig, private readonly streams: WorkerStreams) {
    const mem = config.memoryBytes;
    if (!Number.isSafeInteger(mem) || mem <= 0 || mem % 4096 !== 0) throw new VmConfigError(`guest memory must be a positive multiple of 4 KiB (got ${mem})`);
    if (mem > MAX_GUEST_MEMORY) throw new VmConfigError(`guest memory of ${mem} bytes is too large: at most ${MAX_GUEST_MEMORY / (1 << 20)} MiB (system memory is limited to 2 GiB)`);
    const system = Math.ceil((mem + SYSTEM_OVERHEAD) / 65536) * 65536;
    this.winhv = WinHv.boot({ memoryBytes: system });
    this.partition = VidPartition.create(this.winhv, { memoryBytes: mem, vpCount: VP_COUNT });
    // One description of the platform feeds both the ACPI tables and the PM device, so they agree on ports.
    const platform = defaultAcpiPlatform(VP_COUNT);
    try {
      this.boot = bootKernel(config.kernel, this.partition.memory, { initrd: config.initrd, cmdline: config.cmdline, acpi: platform });
      this.partition.setInitialState(0, this.boot.entry);
    } catch (e) {
      this.partition.delete();
      throw e;
    }
    this.console = new SerialConsole(streams.input, streams.output, () => this.finish({ kind: 'quit' }));
    this.ioapic = new IoApic((vector, type, destination, logical, levelTriggered) => {
      try {
        this.partition.assertInterrupt(vector, { type, destination, logical, levelTriggered });
      } catch (e) {
        if (!(e instanceof HvError)) throw e;
        this.interruptErrors++;
      }
    });
    this.mmio.register('ioapic', IOAPIC_BASE, IOAPIC_MMIO_SIZE, this.ioapic);
    this.uart = new Uart16550((b) => this.console.put(b), (level) => this.ioapic.setLevel(COM1_IRQ, level));
    this.ports.register('com1', COM1_PORT, 8, this.uart);
    this.ports.register('debug-exit', DEBUG_EXIT_PORT, 1, new DebugExit((code) => this.finish({ kind: 'debug-exit', code })));
    this.acpiPm = new AcpiPm(platform, { powerOff: () => this.finish({ kind: 'power-off' }), reset: () => this.finish({ kind: 'reset' }) });
    this.acpiPm.register(this.ports);
    for (const port of this.ports.ports()) this.partition.installIoIntercept(port);
    const trace = config.traceExits === true;
    this.partition.setInterceptHandler((m) => this.onIntercept(m, trace));
  }

  static create(config: VmConfig, streams: WorkerStreams): VmWorker {
    return new VmWorker(config, streams);
  }

  private finish(exit: VmExit): void {
    if (this.exit === null) this.exit = exit;
  }

  /** Ask the VM to stop (a signal, the user). */
  quit(): void {
    this.finish({ kind: 'quit' });
  }

  /** The root's side of every intercept of this VM (called synchronously while the VP waits). */
  private onIntercept(m: InterceptMessage, trace: boolean): void {
    if (trace) this.streams.trace.write(`intercept ${JSON.stringify(m.inspect())}\n`);
    switch (m.type) {
      case HvMessageType.X64_IO_PORT_INTERCEPT:
        if (m.accessType === InterceptAccessType.WRITE) this.ports.write(m.port, m.size, m.data);
        else m.value = this.ports.read(m.port, m.size);
        break;
      case HvMessageType.UNMAPPED_GPA:
      case HvMessageType.GPA_INTERCEPT:
        if (m.accessType === InterceptAccessType.WRITE) this.mmio.write(m.gpa, m.size, m.data);
        else m.value = this.mmio.read(m.gpa, m.size);
        break;
      case HvMessageType.X64_MSR_INTERCEPT:
        m.injectGp = true;
        break;
      case HvMessageType.X64_APIC_EOI:
        this.ioapic.eoi(m.vector); // a level-triggered interrupt was serviced: Remote IRR clears
        break;
    }
    // A device ended the VM (debug-exit): keep the VP suspended so the dispatch returns now.
    if (this.exit !== null) m.suspend();
  }

  /** Run until the guest powers off, stops for good, or the user quits. */
  async run(): Promise<VmExit> {
    this.console.attach();
    try {
      let last = Date.now();
      let flags = 0;
      while (this.exit === null) {
        this.console.feed((b) => this.uart.receive(b), this.uart.rxSpace);
        const r = this.partition.run(0, SLICE_100NS, flags);
        flags = 0;
        if (r.event === DispatchEvent.INTERCEPT && this.exit === null) {
          const m = this.partition.interceptMessage(0);
          const rip = this.partition.describeVp(0).rip;
          if (m !== null && m.type === HvMessageType.X64_HALT) this.finish({ kind: 'halt', rip });
          else if (m !== null && m.type === HvMessageType.UNRECOVERABLE_EXCEPTION) this.finish({ kind: 'triple-fault', rip });
          else flags = DispatchVpFlags.CLEAR_INTERCEPT_SUSPEND;
        }
        if (this.exit !== null) break;
        if (r.state === DispatchState.BLOCKED) {
          // HLT with interrupts enabled and no timer that can wake it: idle until a device interrupts.
          this.console.flush();
          await sleep(10);
          last = Date.now();
        } else if (Date.now() - last >= YIELD_MS) {
          this.console.flush();
          await yieldToEventLoop();
          last = Date.now();
        }
      }
      return this.exit;
    } finally {
      this.console.detach();
      this.partition.delete();
    }
  }

  inspect(): Record<string, unknown> {
    return {
      partition: this.partition.inspect(),
      ports: this.ports.inspect(),
      mmio: this.mmio.inspect(),
      com1: this.uart.inspect(),
      ioapic: this.ioapic.inspect(),
      interruptErrors: this.interruptErrors,
      acpiPm: this.acpiPm.inspect(),
      boot: {
        kind: this.boot.kind, kernel: this.boot.kernel, initrd: this.boot.initrd, cmdline: this.boot.cmdline,
        rsdp: '0x' + this.boot.rsdpGpa.toString(16), e820: this.boot.e820,
      },
      hypervisor: this.winhv.inspectHypervisor(),
    };
  }
}
