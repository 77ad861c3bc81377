// `hypatia run`: one process holding the hypervisor, one child partition and its worker, with COM1 on the
// terminal (like qemu-system -nographic).
import { readFileSync } from 'node:fs';
import { BootError } from '../firmware/index.js';
import { VidError } from '../vid/index.js';
import { HvError } from '../winhv/index.js';
import { openDisk, StorageError, type Disk } from '../storage/index.js';
import { MAX_GUEST_MEMORY, VMBUS_VERSION_NAMES, VmConfigError, vmbusVersionOf, VmWorker, type ControlServer, type ResetAction, type ClockMode, type VmExit } from '../vmwp/index.js';
import { endBySignal, exitStatus } from './run-exit.js';
import { ArgReader } from './arg-reader.js';
import { parseMemorySize, UsageError } from './size-option.js';
import { startControl } from './run-control.js';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS, handleStopSignals } from './stop-signals.js';

/**
 * The command line when --append is absent, for this platform (COM1 is the only console, no VGA):
 *   console=ttyS0                the kernel's console on COM1;
 *   earlycon=uart8250,io,0x3f8   messages from early setup on, before the 8250 driver registers ttyS0 (a
 *                                boot that stops early would otherwise print nothing);
 *   panic=-1                     reset at once after a panic instead of hanging; the worker has the panic from
 *                                the crash MSRs (or the panic line before the reset) and ends the run (status 8).
 */
export const DEFAULT_CMDLINE = 'console=ttyS0 earlycon=uart8250,io,0x3f8 panic=-1';

export const RUN_HELP = `Usage: hypatia run --kernel <file> [--initrd <file>] [--append "<cmdline>"] [--memory <size>]
                  [--on-reset reboot|stop] [--clock host|virtual] [--trace-exits]
                  [--trace-vmbus] [--vmbus-version <v>] [--control <path>] [--shutdown-timeout <s>]
                  [--disk <file>[,ro]]...

Boot a kernel in a child partition, with COM1 (0x3F8) on this terminal.

Options:
  --kernel <file>   the kernel: a Linux bzImage (boot protocol 2.12+, 64-bit entry), Linux's ELF vmlinux, or a
                    freestanding x86-64 ELF executable; ELF segments load at their physical addresses, at or
                    above 1 MiB (the firmware keeps the first MiB for page tables, boot_params, ACPI tables)
  --initrd <file>   an initial ramdisk, placed at the top of RAM
  --append <text>   the kernel command line (default: "${DEFAULT_CMDLINE}")
  --memory <size>   guest RAM, e.g. 64M, 1G, 131072K (default 256M, at most ${MAX_GUEST_MEMORY / (1 << 20)}M)
  --on-reset <what> what a guest reset does (the ACPI reset register, or a triple fault, which resets a PC
                    too): "reboot" starts the VM again with fresh state (RAM zeroed, processor and devices
                    reset, kernel, initrd and tables loaded again) and says so on stderr; "stop" ends the run.
                    Default: reboot for a bzImage, stop for an ELF kernel (test guests fail by triple faulting)
  --clock <mode>    "host" (default): the guest's clock follows this machine's: an idle guest waits in real
                    time, and a busy one, whose software processor falls behind, has its clock stepped forward;
                    "virtual": time counts instructions only and idle time is skipped at once (deterministic
                    runs that finish sooner, but the guest's clock drifts from the host's)
  --disk <file>[,ro]
                    attach a disk image (VHDX, VHD or raw, detected) to the synthetic SCSI controller (storvsp,
                    Linux's hv_storvsc); repeatable: the first is LUN 0 (Linux's /dev/sda), the next LUN 1, ...;
                    ",ro" attaches it read-only (the guest sees it write-protected). Needs VMBus (a bzImage)
  --trace-exits     print every intercept (I/O port, MMIO, MSR, halt) to stderr
  --trace-vmbus     print the VMBus server's narration (connect, offers, opens, closes) to stderr; without it
                    only its problem reports (a refused message, a dropped packet), rate-limited
  --vmbus-version <v>
                    the newest VMBus protocol version the host accepts (${VMBUS_VERSION_NAMES.join(', ')}; default
                    ${VMBUS_VERSION_NAMES[0]}): the guest falls back to it, as on an older Hyper-V host
  --control <path>  serve a control socket at <path> (Unix socket, mode 0600) for "hypatia vm": status, the
                    heartbeat, KVP get/set, shutdown and reboot through the guest's integration services, stop
  --shutdown-timeout <s>
                    after SIGTERM or "vm shutdown", how long the guest has to power off before the VM is
                    stopped (default ${DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000})
  -h, --help        show this help

The kernel starts as Linux's 64-bit boot protocol says: 64-bit mode, CPL 0, interrupts off, GPA 0-4 GiB
identity-mapped with 2 MiB pages, CS 0x10 / DS 0x18, RSI = boot_params (e820 map, command line, initrd, ACPI
RSDP), RIP = the bzImage's load address + 0x200 or the ELF entry (made physical). The platform: ACPI tables
(RSDP, XSDT, FADT, FACS, DSDT, MADT), the ACPI PM registers (poweroff through S5, reboot through the reset
register), COM1, the Hyper-V guest crash MSRs, and for a bzImage VMBus (the ACPI VMBus device, the SynIC and
the channel server in the root). Standard input goes to COM1: on a terminal every key
(Ctrl-C included, as in QEMU), Ctrl-A x quits; a pipe or file as it is, and its end leaves the VM running.

Stopping: SIGTERM asks the guest to shut down through the shutdown integration service (Linux: hv_utils)
and waits for it to power off; hypatia then exits 0. If the guest has not powered off within
--shutdown-timeout, or has no shutdown service (no VMBus, hv_utils not loaded), the VM is stopped and hypatia
ends by SIGTERM, so a shell reports 143. SIGINT stops the VM at once (within one 10 ms slice) and hypatia
ends by SIGINT (130). A signal during a shutdown stops the VM at once; one more while it stops exits at once.
The terminal is restored in every case. "hypatia vm shutdown --control <path>" asks the same way, with the
same timeout, after which the VM is stopped (status 0); "hypatia vm stop" stops the VM (status 0).

Exit status: a guest write of v to port 0xF4 (isa-debug-exit, as QEMU) ends the run with status (v << 1) | 1,
always odd; the other outcomes are even:
  0  the guest powered off (ACPI S5) or halted with interrupts disabled, or the user quit (Ctrl-A x)
  2  bad input: usage, an unreadable or invalid kernel or initrd, a bad memory size
  4  triple fault, with --on-reset stop
  6  reset through the ACPI reset register, with --on-reset stop
  8  guest panic, whatever --on-reset says: reported through the Hyper-V crash MSRs (Linux does, with its
     panic code and registers or the tail of its log, printed on stderr), or else a reset right after the
     console showed "Kernel panic - not syncing" (a heuristic: that line could come from anything the guest
     prints). After a crash report the guest gets 1 s of guest time to reset itself (panic=-1) before the run
     ends; a guest that panics silently with panic=0 hangs, as on hardware, until stopped.
`;

interface DiskOption { path: string; readOnly: boolean }

interface RunOptions { disks: DiskOption[]; control?: string; shutdownTimeoutMs: number; kernel: string; initrd?: string; cmdline: string; memoryBytes: number; traceExits: boolean; traceVmbus: boolean; onReset?: ResetAction; clock?: ClockMode; vmbusVersion?: number }

function parseRunArgs(argv: string[]): RunOptions | 'help' {
  let kernel: string | undefined;
  let initrd: string | undefined;
  let cmdline = DEFAULT_CMDLINE;
  let memoryBytes = 256 * 2 ** 20;
  let traceExits = false;
  let control: string | undefined;
  let shutdownTimeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let traceVmbus = false;
  const disks: DiskOption[] = [];
  let onReset: ResetAction | undefined;
  let clock: ClockMode | undefined;
  let vmbusVersion: number | undefined;
  const r = new ArgReader(argv);
  for (let name = r.next(); name !== null; name = r.next()) {
    switch (name) {
      case '-h': case '--help': return 'help';
      case '--kernel': kernel = r.value(); break;
      case '--initrd': initrd = r.value(); break;
      case '--append': cmdline = r.value(); break;
      case '--memory': case '-m': memoryBytes = parseMemorySize(name, r.value()); break;
      case '--trace-exits': traceExits = true; break;
      case '--control': control = r.value(); if (control === '') throw new UsageError('--control needs a path'); break;
      case '--shutdown-timeout': shutdownTimeoutMs = r.secondsMs(86_400); break;
      case '--trace-vmbus': traceVmbus = true; break;
      case '--disk': {
        const v = r.value();
        const ro = v.endsWith(',ro');
        const path = ro ? v.slice(0, -3) : v;
        if (path === '') throw new UsageError('--disk needs a file');
        disks.push({ path, readOnly: ro });
        break;
      }
      case '--on-reset': onReset = r.choice(['reboot', 'stop'] as const); break;
      case '--clock': clock = r.choice(['host', 'virtual'] as const); break;
      case '--vmbus-version': vmbusVersion = vmbusVersionOf(r.choice(VMBUS_VERSION_NAMES)); break;
      default: throw new UsageError(r.arg.startsWith('-') ? `unknown option ${name} for run` : `unexpected argument "${r.arg}"`);
    }
  }
  if (kernel === undefined) throw new UsageError('run needs --kernel <file>');
  if (memoryBytes > MAX_GUEST_MEMORY) throw new UsageError(`--memory: ${memoryBytes / 2 ** 20}M is too large (at most ${MAX_GUEST_MEMORY / 2 ** 20}M: system memory is limited to 2 GiB)`);
  return { disks, control, shutdownTimeoutMs, kernel, initrd, cmdline, memoryBytes, traceExits, traceVmbus, onReset, clock, vmbusVersion };
}

/** Opens the --disk images (null, with the reason on stderr and nothing left open, if one cannot be used). */
function openDisks(options: readonly DiskOption[]): Disk[] | null {
  const disks: Disk[] = [];
  for (const o of options) {
    try {
      disks.push(openDisk(o.path, { readOnly: o.readOnly }));
    } catch (e) {
      closeDisks(disks);
      const code = (e as NodeJS.ErrnoException).code;
      if (!(e instanceof StorageError) && typeof code !== 'string') throw e;
      const why = code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      process.stderr.write(`hypatia run: --disk ${o.path}: ${why}\n`);
      return null;
    }
  }
  return disks;
}

function closeDisks(disks: readonly Disk[]): void {
  for (const d of disks) {
    try { d.close(); } catch (e) { process.stderr.write(`hypatia run: closing ${d.path}: ${(e as Error).message}\n`); }
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  let opts: RunOptions | 'help';
  try {
    opts = parseRunArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`hypatia run: ${e.message} (see hypatia run --help)\n`); return 2; }
    throw e;
  }
  if (opts === 'help') { process.stdout.write(RUN_HELP); return 0; }
  let kernel: Uint8Array;
  try {
    kernel = readFileSync(opts.kernel);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    process.stderr.write(`hypatia run: cannot read kernel ${opts.kernel}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}\n`);
    return 2;
  }
  let initrd: Uint8Array | undefined;
  if (opts.initrd !== undefined) {
    try {
      initrd = readFileSync(opts.initrd);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      process.stderr.write(`hypatia run: cannot read initrd ${opts.initrd}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}\n`);
      return 2;
    }
  }
  const disks = openDisks(opts.disks);
  if (disks === null) return 2;
  let worker: VmWorker;
  try {
    worker = VmWorker.create({ disks, memoryBytes: opts.memoryBytes, kernel, initrd, cmdline: opts.cmdline, traceExits: opts.traceExits, traceVmbus: opts.traceVmbus, onReset: opts.onReset, clock: opts.clock, vmbusVersion: opts.vmbusVersion }, {
      // A terminal (raw mode) or a pipe/file (bytes as they come; EOF only ends the input, not the VM).
      input: process.stdin,
      output: process.stdout,
      trace: process.stderr,
    });
  } catch (e) {
    closeDisks(disks);
    if (e instanceof BootError) { process.stderr.write(`hypatia run: ${opts.kernel}: ${e.message}\n`); return 2; }
    if (e instanceof VmConfigError || e instanceof VidError || e instanceof HvError) { process.stderr.write(`hypatia run: ${e.message}\n`); return 2; }
    throw e;
  }
  let control: ControlServer | null = null;
  if (opts.control !== undefined) {
    try {
      control = await startControl(opts.control, worker, { memoryBytes: opts.memoryBytes }, (l) => process.stderr.write(`hypatia: ${l}\n`),
        opts.shutdownTimeoutMs);
    } catch (e) {
      process.stderr.write(`hypatia run: --control ${opts.control}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const detachSignals = handleStopSignals(worker, process.stderr, { shutdownTimeoutMs: opts.shutdownTimeoutMs });
  let exit: VmExit;
  try {
    exit = await worker.run();
  } finally {
    detachSignals();
    closeDisks(disks); // flushes what the guest wrote
    await control?.close();
  }
  const status = exitStatus(exit, process.stderr);
  if (exit.kind === 'stopped' && exit.reason !== 'host') endBySignal(exit.reason);
  return status;
}
