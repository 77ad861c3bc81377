// One boot of a VM: a child partition created through VID with zeroed RAM and fresh VPs, the kernel, initrd and
// ACPI tables loaded by the firmware, and a fresh set of VDevs (COM1, the IOAPIC, debug-exit, the ACPI PM
// registers) behind its intercepts. A guest reset throws the machine away and the worker builds another:
// Hyper-V resets a partition in place, but building a new one through the same hypercalls as a first boot means
// every piece of state — VP registers, local APIC, synthetic MSRs, hypercall and reference TSC pages, crash
// registers, device registers — starts from its power-on value by construction; nothing can be missed.
import {
  HvError, HvMessageType, InterceptAccess, InterceptAccessType, WinHv, HvMsr, type InterceptMessage,
} from '../winhv/index.js';
import { VidPartition } from '../vid/index.js';
import { bootKernel, type AcpiPlatform, type DirectBoot } from '../firmware/index.js';
import { AcpiPm, COM1_PORT, DEBUG_EXIT_PORT, DebugExit, MmioBus, PortBus, Uart16550 } from '../vdev/index.js';
import { COM1_IRQ, IOAPIC_BASE, IOAPIC_MMIO_SIZE, IoApic } from '../vdev/index.js';
import type { VmConfig } from './vm-config.js';
import { VmbusHost, type VmbusHostOptions } from './vmbus-host.js';

/** What a machine's devices and intercepts tell the worker. */
export interface MachineEvents {
  /** A byte the guest sent to COM1. */
  output(byte: number): void;
  debugExit(code: number): void;
  powerOff(): void;
  /** The ACPI reset register was written. */
  reset(): void;
  /** The guest wrote CRASH_CTL with CRASH_NOTIFY (the parameters are in the partition's crash registers). */
  crashNotified(): void;
  /** The worker wants the VP back: keep it suspended after this intercept. */
  stopping(): boolean;
  /** Every intercept, when tracing. */
  trace: ((text: string) => void) | null;
  /**
   * VMBus for this boot (null: none): where its diagnostics go and whether to narrate the whole protocol.
   * The worker passes it only when the ACPI platform carries the VMBus devices.
   */
  vmbus: VmbusHostOptions | null;
}

export class VmMachine {
  readonly ports = new PortBus();
  readonly mmio = new MmioBus();
  readonly partition: VidPartition;
  readonly boot: DirectBoot;
  readonly uart: Uart16550;
  /** The I/O APIC the ACPI MADT describes (id 0 at 0xFEC00000, GSI base 0); COM1 is on pin 4. */
  readonly ioapic: IoApic;
  readonly acpiPm: AcpiPm;
  /** The VMBus channel server of this boot (null when the VM has no VMBus): `machine.vmbus.addVsp(vsp)` offers a device. */
  readonly vmbus: VmbusHost | null;
  /** Interrupts the hypervisor refused (a guest-programmed entry the hypercall cannot express). */
  private interruptErrors = 0;
  private disposed = false;

  constructor(winhv: WinHv, config: VmConfig, platform: AcpiPlatform, vpCount: number, private readonly events: MachineEvents) {
    // A VMBus guest gets the SynIC privileges at creation (they are fixed once the partition is initialized).
    this.partition = VidPartition.create(winhv, { memoryBytes: config.memoryBytes, vpCount, synic: events.vmbus !== null });
    try {
      this.boot = bootKernel(config.kernel, this.partition.memory, { initrd: config.initrd, cmdline: config.cmdline, acpi: platform });
      this.partition.setInitialState(0, this.boot.entry);
      this.ioapic = new IoApic((vector, type, destination, logical, levelTriggered) => {
        try {
          this.partition.assertInterrupt(vector, { type, destination, logical, levelTriggered });
        } catch (e) {
          if (!(e instanceof HvError)) throw e;
          this.interruptErrors++;
        }
      });
      this.mmio.register('ioapic', IOAPIC_BASE, IOAPIC_MMIO_SIZE, this.ioapic);
      this.uart = new Uart16550((b) => events.output(b), (level) => this.ioapic.setLevel(COM1_IRQ, level));
      this.ports.register('com1', COM1_PORT, 8, this.uart);
      this.ports.register('debug-exit', DEBUG_EXIT_PORT, 1, new DebugExit((code) => events.debugExit(code)));
      this.acpiPm = new AcpiPm(platform, { powerOff: () => events.powerOff(), reset: () => events.reset() });
      this.acpiPm.register(this.ports);
      for (const port of this.ports.ports()) this.partition.installIoIntercept(port);
      // The guest's crash notification (the hypervisor keeps the crash registers and forwards this one write).
      this.partition.installMsrIntercept(HvMsr.CRASH_CTL, InterceptAccess.WRITE);
      this.partition.setInterceptHandler((m) => this.onIntercept(m));
      this.vmbus = events.vmbus === null ? null : new VmbusHost(this.partition, events.vmbus);
    } catch (e) {
      this.partition.delete();
      throw e;
    }
  }

  /** The root's side of every intercept of this VM (called synchronously while the VP waits). */
  private onIntercept(m: InterceptMessage): void {
    const trace = this.events.trace;
    if (trace !== null) trace(`intercept ${JSON.stringify(m.inspect())}\n`);
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
        if (m.msr === HvMsr.CRASH_CTL && m.accessType === InterceptAccessType.WRITE) this.events.crashNotified();
        else m.injectGp = true;
        break;
      case HvMessageType.X64_APIC_EOI:
        this.ioapic.eoi(m.vector); // a level-triggered interrupt was serviced: Remote IRR clears
        break;
    }
    // The boot is ending (a device powered off or reset the VM, the host asked to stop): the dispatch returns now.
    if (this.events.stopping()) m.suspend();
  }

  /** Delete the partition and give its RAM back to the root. Safe to call more than once. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.vmbus?.dispose();
    this.partition.delete();
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
      vmbus: this.vmbus?.inspect() ?? null,
      boot: {
        kind: this.boot.kind, kernel: this.boot.kernel, initrd: this.boot.initrd, cmdline: this.boot.cmdline,
        rsdp: '0x' + this.boot.rsdpGpa.toString(16), e820: this.boot.e820,
      },
    };
  }
}
