// What a worker needs to build a VM.
import type { Disk } from '../storage/index.js';
import { SUPPORTED_VERSIONS, versionText } from '../vmbus/index.js';

export interface VmConfig {
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /** The kernel image: a Linux bzImage, or an x86-64 ELF (Linux's vmlinux or a freestanding guest). */
  kernel: Uint8Array;
  /** The initial ramdisk, placed high in RAM (boot_params.ramdisk_image/size). */
  initrd?: Uint8Array;
  /** The kernel command line (empty when absent). */
  cmdline?: string;
  /** Write every intercept to the trace stream (debugging aid). */
  traceExits?: boolean;
  /**
   * What a guest reset does (the ACPI reset register, or a triple fault, which is how a PC resets too):
   * 'reboot' starts the VM again with fresh state, 'stop' ends the run. Default: 'reboot' for a Linux bzImage,
   * 'stop' for an ELF kernel (freestanding test guests, whose triple fault is a failure to report).
   */
  onReset?: ResetAction;
  /**
   * 'host' (default): the guest's clock follows the host's. It never runs ahead (an idle guest waits in real
   * time), and when the busy software processor leaves it behind it is stepped forward to the host's.
   * 'virtual': time is counted in instructions only and idle time is skipped at once (deterministic; faster for
   * batch runs and tests that sleep; the guest's clock then drifts from the host's both ways).
   */
  clock?: ClockMode;
  /**
   * Give the VM VMBus: the ACPI VMBus devices, the SynIC privileges and a channel server in the root that offers
   * the machine's VSPs. Default: on for a Linux bzImage (its hv_vmbus binds to it), off for an ELF kernel
   * (freestanding test guests, which must see exactly the platform they test).
   */
  vmbus?: boolean;
  /** Write every VMBus server line (offers, opens, closes) to the trace stream, not only problems. */
  traceVmbus?: boolean;
  /**
   * The newest VMBus protocol version the host accepts, as VERSION_* (one of SUPPORTED_VERSIONS); default the
   * newest (5.3). Older caps make Linux fall back, for testing its older protocol paths.
   */
  vmbusVersion?: number;
  /**
   * Disks on the VM's synthetic SCSI controller (storvsp), as LUNs 0..n-1 in this order (Linux: sda, sdb, ...).
   * Open images the caller owns and closes after the run; they stay attached across guest reboots. Needs VMBus.
   */
  disks?: readonly Disk[];
}

export type ClockMode = 'host' | 'virtual';

/** The VMBus versions a host can be capped at, as "major.minor", newest first. */
export const VMBUS_VERSION_NAMES: readonly string[] = SUPPORTED_VERSIONS.map(versionText);

/** VmConfig.vmbusVersion for "major.minor" (one of VMBUS_VERSION_NAMES). */
export function vmbusVersionOf(name: string): number {
  const k = VMBUS_VERSION_NAMES.indexOf(name);
  if (k < 0) throw new VmConfigError(`VMBus version ${name} is not one this host serves (${VMBUS_VERSION_NAMES.join(', ')})`);
  return SUPPORTED_VERSIONS[k];
}

export type ResetAction = 'reboot' | 'stop';

export class VmConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmConfigError';
  }
}
