// The guest crash registers (TLFS "Guest Crash Enlightenment"; CPUID 0x40000003 EDX bit 10): five partition-wide
// parameters HV_X64_MSR_CRASH_P0..P4 and the control register HV_X64_MSR_CRASH_CTL. Linux (drivers/hv/hv_common.c,
// built into the kernel since the panic code left hv_vmbus) reads CRASH_CTL once at boot; on a panic it writes
// either P0 = the panic code, P1 = its guest OS ID, P2 = RIP, P3 = RAX, P4 = RSP (hyperv_report_panic), or, when
// CRASH_CTL offered CRASH_NOTIFY_MSG, P3 = the GPA of a page holding the tail of its log and P4 = its length
// (hv_kmsg_dump); then CRASH_CTL = CRASH_NOTIFY (| CRASH_NOTIFY_MSG).
//
// The hypervisor keeps the registers; the root learns of the notification by installing a write intercept on
// CRASH_CTL (the one synthetic MSR whose write is forwarded once the hypervisor has handled it) and reads the
// parameters with HvCallGetVpRegisters (HvRegisterGuestCrashP0..Ctl). A new partition starts with them zero.

/** Results (see synthetic-msrs.ts): handled, and the root hears of the write if it intercepts this MSR. */
export const CRASH_FORWARD = 2;

/** Partition-wide crash registers: P0..P4 as (lo, hi) pairs, and how often the guest notified. */
export class CrashRegisters {
  readonly params = new Int32Array(10);
  /** High half of the last CRASH_CTL the guest wrote with CRASH_NOTIFY (0: no notification yet). */
  notifiedCtlHi = 0;
  notifications = 0;

  inspect(): Record<string, unknown> {
    const p: string[] = [];
    for (let i = 0; i < 5; i++) p.push('0x' + ((BigInt(this.params[2 * i + 1] >>> 0) << 32n) | BigInt(this.params[2 * i] >>> 0)).toString(16));
    return { params: p, ctl: '0x' + (BigInt(this.notifiedCtlHi >>> 0) << 32n).toString(16), notifications: this.notifications };
  }
}
