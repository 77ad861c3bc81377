// The worker: runs one VM from its configuration. It starts a hypervisor, builds the machine through VID (a
// child partition with RAM, one VP, the kernel loaded by the firmware with its ACPI tables, the VDevs behind
// I/O intercepts: vm-machine.ts), and runs the VP in slices that yield to the event loop so terminal input and
// signals get through. It decides how each boot ends: power-off, a debug-exit code, a guest crash, a reset
// (reboot with a new machine, or stop, as the reset policy says), or the host asking it to stop.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DispatchEvent, DispatchState, DispatchVpFlags, HvMessageType, MAX_SYSTEM_MEMORY, WinHv } from '../winhv/index.js';
import { acpi, defaultAcpiPlatform, looksLikeBzImage, type AcpiPlatform } from '../firmware/index.js';
import { SUPPORTED_VERSIONS, versionText, type Vsp } from '../vmbus/index.js';
import { Storvsp } from '../vsp/storvsp/index.js';
import { integrationServices, type IntegrationServices } from '../vsp/ic/index.js';
import { LogLimiter } from './log-limiter.js';
import { consoleCrash, readCrashRegisters, type GuestCrash } from './guest-crash.js';
import { PanicWatch } from './panic-watch.js';
import { SerialConsole, type ConsoleInput, type ConsoleOutput } from './serial-console.js';
import { VmConfigError, type ResetAction, type VmConfig } from './vm-config.js';
import { VmMachine } from './vm-machine.js';
import { ClockPacer } from './clock-pacer.js';

export type VmExit =
  | { kind: 'debug-exit'; code: number }
  /** ACPI S5 through PM1a_CNT (Linux's poweroff). */
  | { kind: 'power-off' }
  /** The ACPI reset register was written and the reset policy is 'stop'. */
  | { kind: 'reset' }
  | { kind: 'halt'; rip: string }
  /** A triple fault (an unrecoverable exception) and the reset policy is 'stop'. */
  | { kind: 'triple-fault'; rip: string }
  /** The guest crashed: it said so through the crash MSRs, or its console showed a panic before it reset. */
  | { kind: 'panic'; crash: GuestCrash }
  /** Ctrl-A x on the console. */
  | { kind: 'quit' }
  /** The host asked the VM to stop (requestStop). */
  | { kind: 'stopped'; reason: StopReason };

/** Why the host stops a VM: a signal to the process, or a management request. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'host';

/** Root-side memory beside guest RAM: the hypervisor's pool and the root's own pages. */
const SYSTEM_OVERHEAD = (1 << 20) + (1 << 20);
/** The largest guest RAM a worker can give a VM. */
export const MAX_GUEST_MEMORY = Math.floor((MAX_SYSTEM_MEMORY - SYSTEM_OVERHEAD) / (1 << 20)) * (1 << 20);
/** The instance GUID of a VM's synthetic SCSI controller (one per VM, so a constant). */
const STORVSP_INSTANCE_ID = 'd34b2567-b9b6-42b9-8778-0a4ec0b955bf';
/** VPs per VM (the ACPI tables describe this many processors). */
const VP_COUNT = 1;
/** One dispatch: 10 ms of virtual time (1 M instructions). */
const SLICE_100NS = 100_000;
/** Wall-clock time to run before yielding to the event loop. */
const YIELD_MS = 15;
/**
 * After a crash notification the guest runs on for up to this many dispatches (1 s of virtual time) so it can
 * finish printing and reset itself (Linux with panic=-1 does at once); a guest that hangs instead (panic=0) is
 * stopped then.
 */
const CRASH_GRACE_SLICES = 100;

export interface WorkerStreams {
  input: ConsoleInput | null;
  output: ConsoleOutput;
  /** Diagnostics: trace output, and a line when the guest reboots. */
  trace: { write(text: string): unknown };
}

/** How the current boot ended, before the reset policy and crash reports are applied. */
type BootEnd =
  | { kind: 'exit'; exit: VmExit }
  | { kind: 'reset'; cause: 'reset-register' }
  | { kind: 'reset'; cause: 'triple-fault'; rip: string };

export class VmWorker {
  private readonly console: SerialConsole;
  private readonly winhv: WinHv;
  /** One description of the platform feeds both the ACPI tables and the PM device, so they agree on ports. */
  private readonly platform: AcpiPlatform;
  private machine: VmMachine;
  /** What a guest reset does (VmConfig.onReset, or the default for the kernel's kind). */
  readonly onReset: ResetAction;
  /** Boots so far (1 after the first machine is built). */
  private bootCount = 1;
  private readonly panicWatch = new PanicWatch();
  // Per boot: how it ended, the crash the guest reported, dispatches since then.
  private end: BootEnd | null = null;
  private crash: GuestCrash | null = null;
  private crashSlices = 0;
  /** Set by requestStop; ends the run whatever the boot is doing. */
  private stop: StopReason | null = null;
  /** Keeps virtual time on the host's clock, both ways (null when the config says clock 'virtual'). */
  private readonly pacer: ClockPacer | null;
  /** The VM has VMBus (VmConfig.vmbus, default: a bzImage kernel). */
  readonly hasVmbus: boolean;
  /** VSPs offered on every boot (addVsp). */
  private readonly vsps: Vsp[] = [];
  /** The synthetic SCSI controller with VmConfig.disks (null without disks): its LUNs and counters in inspect(). */
  private storvsp: Storvsp | null = null;
  /**
   * The integration services (heartbeat, shutdown, time sync, KVP: the host side of Linux's hv_utils), offered
   * on every boot of a VM with VMBus; null without VMBus. Their state survives reboots, their channels do not.
   */
  readonly integration: IntegrationServices | null;

  private constructor(private readonly config: VmConfig, private readonly streams: WorkerStreams) {
    const mem = config.memoryBytes;
    if (!Number.isSafeInteger(mem) || mem <= 0 || mem % 4096 !== 0) throw new VmConfigError(`guest memory must be a positive multiple of 4 KiB (got ${mem})`);
    if (mem > MAX_GUEST_MEMORY) throw new VmConfigError(`guest memory of ${mem} bytes is too large: at most ${MAX_GUEST_MEMORY / (1 << 20)} MiB (system memory is limited to 2 GiB)`);
    const system = Math.ceil((mem + SYSTEM_OVERHEAD) / 65536) * 65536;
    this.winhv = WinHv.boot({ memoryBytes: system });
    this.platform = defaultAcpiPlatform(VP_COUNT);
    this.hasVmbus = config.vmbus ?? looksLikeBzImage(config.kernel);
    if (this.hasVmbus) this.platform.devices.push(acpi.vmbusAcpiDevices({ mmio: [acpi.VMBUS_MMIO_LOW] }));
    const disks = config.disks ?? [];
    if (disks.length > 0 && !this.hasVmbus) throw new VmConfigError('disks need VMBus (a Linux bzImage kernel, or vmbus: true)');
    if (config.vmbusVersion !== undefined) {
      if (!SUPPORTED_VERSIONS.includes(config.vmbusVersion)) {
        throw new VmConfigError(`VMBus version ${versionText(config.vmbusVersion)} is not one this host serves (${SUPPORTED_VERSIONS.map(versionText).join(', ')})`);
      }
      if (!this.hasVmbus) throw new VmConfigError('a VMBus version needs VMBus (a Linux bzImage kernel, or vmbus: true)');
    }
    this.console = new SerialConsole(streams.input, streams.output, () => this.quit());
    this.machine = this.buildMachine();
    this.integration = this.hasVmbus ? this.offerIntegrationServices() : null;
    if (disks.length > 0) {
      // One synthetic SCSI controller with every disk, offered on every boot; its refusals of guest input are
      // rate-limited diagnostics.
      const limiter = new LogLimiter((text) => { this.streams.trace.write(text); });
      this.storvsp = new Storvsp({ disks: disks.map((disk) => ({ disk })), instanceId: STORVSP_INSTANCE_ID, log: (line) => limiter.line(`hypatia: ${line}`) });
      this.addVsp(this.storvsp);
    }
    this.pacer = config.clock === 'virtual' ? null : new ClockPacer();
    this.onReset = config.onReset ?? (this.machine.boot.kind === 'bzimage' ? 'reboot' : 'stop');
  }

  static create(config: VmConfig, streams: WorkerStreams): VmWorker {
    return new VmWorker(config, streams);
  }

  private buildMachine(): VmMachine {
    const trace = this.config.traceExits === true ? (text: string) => { this.streams.trace.write(text); } : null;
    const machine = new VmMachine(this.winhv, this.config, this.platform, VP_COUNT, {
      output: (b) => { this.panicWatch.feed(b); this.console.put(b); },
      debugExit: (code) => this.endBoot({ kind: 'exit', exit: { kind: 'debug-exit', code } }),
      powerOff: () => this.endBoot({ kind: 'exit', exit: { kind: 'power-off' } }),
      reset: () => this.endBoot({ kind: 'reset', cause: 'reset-register' }),
      crashNotified: () => this.crashNotified(),
      stopping: () => this.end !== null || this.stop !== null,
      trace,
      vmbus: this.hasVmbus
        ? { write: (text) => { this.streams.trace.write(text); }, traceAll: this.config.traceVmbus === true, maxVersion: this.config.vmbusVersion }
        : null,
    });
    for (const vsp of this.vsps) machine.vmbus?.addVsp(vsp);
    return machine;
  }

  /**
   * Offer `vsp` to the guest on this boot and every later one (a reboot builds a new machine and channel
   * server; the VSP's channel is closed with the old one and offered again). Throws when the VM has no VMBus.
   */
  addVsp(vsp: Vsp): void {
    const vmbus = this.machine.vmbus;
    if (vmbus === null) throw new VmConfigError('this VM has no VMBus (an ELF kernel without vmbus: true)');
    vmbus.addVsp(vsp);
    this.vsps.push(vsp);
  }

  /** Builds the integration services and offers them on every boot; their problem lines are rate-limited. */
  private offerIntegrationServices(): IntegrationServices {
    const limiter = new LogLimiter((text) => { this.streams.trace.write(text); });
    const traceAll = this.config.traceVmbus === true;
    const ics = integrationServices({
      log: (line, problem) => { if (traceAll || problem) limiter.line(`hypatia: ${line}`); },
      // Time sync 4.0 samples carry the guest's reference time, read from the current boot's VP 0.
      timesync: { referenceTime: () => this.machine.partition.referenceTime(0) },
    });
    for (const vsp of ics.vsps) this.addVsp(vsp);
    return ics;
  }

  /** The current boot's VMBus (null without VMBus), e.g. to inspect it. */
  get vmbus(): VmMachine['vmbus'] {
    return this.machine.vmbus;
  }

  /** The partition of the current boot. */
  get partition(): VmMachine['partition'] {
    return this.machine.partition;
  }

  /** How the current boot's kernel was loaded. */
  get boot(): VmMachine['boot'] {
    return this.machine.boot;
  }

  /** Boots so far, counting the first. */
  get boots(): number {
    return this.bootCount;
  }

  private endBoot(end: BootEnd): void {
    if (this.end === null) this.end = end;
  }

  private crashNotified(): void {
    if (this.crash !== null) return; // the first report of a boot is the one
    this.crash = readCrashRegisters(this.machine.partition);
    this.crashSlices = 0;
  }

  /** The user quit from the console (Ctrl-A x). */
  quit(): void {
    this.endBoot({ kind: 'exit', exit: { kind: 'quit' } });
  }

  /** The host wants the VM stopped (a signal, a management call): the run ends at the next slice boundary. */
  requestStop(reason: StopReason): void {
    if (this.stop === null) this.stop = reason;
  }

  /**
   * Ask the guest to shut itself down cleanly, through the shutdown integration service. False when the guest
   * has not negotiated that service (no VMBus, hv_utils not loaded, a reboot in progress): the caller then
   * stops the VM instead.
   */
  requestGuestShutdown(): boolean {
    return this.integration?.shutdown.request('shutdown', 'the host is shutting the VM down') ?? false;
  }

  /** Run until the guest powers off, stops for good, or the host or the user ends the run. */
  async run(): Promise<VmExit> {
    this.console.attach();
    try {
      for (;;) {
        await this.runBoot();
        const exit = this.settle();
        if (exit !== null) return exit;
        this.reboot();
        // A guest that resets at once, again and again, must still let signals and input through.
        this.console.flush();
        await yieldToEventLoop();
      }
    } finally {
      this.console.detach();
      this.machine.dispose();
    }
  }

  /** Run the current machine until its boot ends, a crash's grace runs out, or the host stops the VM. */
  private async runBoot(): Promise<void> {
    const partition = this.machine.partition;
    let last = Date.now();
    let flags = 0;
    this.pacer?.restart();
    while (this.end === null && this.stop === null) {
      if (this.crash !== null && ++this.crashSlices > CRASH_GRACE_SLICES) return;
      this.console.feed((b) => this.machine.uart.receive(b), this.machine.uart.rxSpace);
      const r = partition.run(0, SLICE_100NS, flags);
      flags = 0;
      if (r.event === DispatchEvent.INTERCEPT && this.end === null) {
        const m = partition.interceptMessage(0);
        if (m !== null && m.type === HvMessageType.X64_HALT) {
          this.endBoot({ kind: 'exit', exit: { kind: 'halt', rip: partition.describeVp(0).rip } });
        } else if (m !== null && m.type === HvMessageType.UNRECOVERABLE_EXCEPTION) {
          this.endBoot({ kind: 'reset', cause: 'triple-fault', rip: partition.describeVp(0).rip });
        } else {
          flags = DispatchVpFlags.CLEAR_INTERCEPT_SUSPEND;
        }
      }
      if (this.end !== null || this.stop !== null) break;
      let ahead = 0;
      if (this.pacer !== null) {
        const now = partition.referenceTime(0);
        ahead = this.pacer.delayMs(now);
        // Busy on the software processor, the guest's clock fell behind the host's: step it forward.
        const to = this.pacer.catchUpTo(now);
        if (to >= 0) partition.setReferenceTime(0, to);
      }
      if (ahead > 0) {
        // The guest is ahead of the host's clock (it skipped idle time): wait for the host to catch up.
        this.console.flush();
        await sleep(Math.min(ahead, 100));
        last = Date.now();
      } else if (r.state === DispatchState.BLOCKED) {
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
  }

  /** How the run ends after this boot, or null to boot again. */
  private settle(): VmExit | null {
    if (this.stop !== null) return { kind: 'stopped', reason: this.stop };
    const end = this.end;
    if (end !== null && end.kind === 'exit' && end.exit.kind === 'quit') return end.exit;
    // A guest that reported a crash ended in it, whatever it did next (reset, halt, nothing).
    if (this.crash !== null) return { kind: 'panic', crash: this.crash };
    if (end === null) throw new Error('a boot ended without a reason'); // runBoot returns only with one of the above
    if (end.kind === 'exit') return end.exit;
    const panicLine = this.panicWatch.panicLine;
    if (panicLine !== null) return { kind: 'panic', crash: consoleCrash(panicLine) };
    if (this.onReset === 'stop') return end.cause === 'triple-fault' ? { kind: 'triple-fault', rip: end.rip } : { kind: 'reset' };
    const why = end.cause === 'triple-fault' ? `guest triple fault at rip ${end.rip}` : 'guest reset (ACPI reset register)';
    this.streams.trace.write(`hypatia: ${why}; rebooting (boot ${this.bootCount + 1})\n`);
    return null;
  }

  /** Replace the machine with a new one: fresh partition, RAM, VP, devices; the kernel loaded again. */
  private reboot(): void {
    this.console.flush();
    this.machine.dispose();
    this.end = null;
    this.crash = null;
    this.panicWatch.reset();
    this.machine = this.buildMachine();
    this.bootCount++;
  }

  inspect(): Record<string, unknown> {
    return {
      ...this.machine.inspect(),
      boots: this.bootCount,
      onReset: this.onReset,
      crash: this.crash,
      integration: this.integration?.inspect() ?? null,
      storvsp: this.storvsp?.inspect() ?? null,
      hypervisor: this.winhv.inspectHypervisor(),
    };
  }
}
