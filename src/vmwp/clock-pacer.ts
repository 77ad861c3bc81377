// Keeps a guest's clock on the host's (`--clock host`). Virtual time advances with retired instructions and jumps
// over idle (a halted VP skips to its next timer), so left alone it runs ahead of the host's clock while the guest
// idles (hours in seconds) and behind it while the guest is busy (the software processor retires fewer
// instructions per second than virtual time's nominal rate). The pacer measures the VP's reference time against
// wall time since the boot began, and the worker acts on both directions:
// - ahead: wait until the host's clock has caught up (the guest observes nothing; runs stay deterministic);
// - behind: set the VP's clock forward to the host's, as a hypervisor whose reference time is the host's clock
//   would have it. The guest sees its clock step forward at a slice boundary, like a VM the host descheduled.
// Catching up at once matters: a debt paid back through idle skipping instead would let an idle guest's clock run
// several times faster than the host's for as long as the debt lasted.
import { performance } from 'node:perf_hooks';

/** Ahead by less than this is not worth a sleep (timer granularity). */
const SLACK_MS = 20;
/** Behind by less than this (100 ns units, 1 ms) is not worth a step. */
const CATCH_UP_MIN_100NS = 10_000;

export class ClockPacer {
  private wallStart: number;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.wallStart = now();
  }

  /** A new boot: its reference time starts again at 0. */
  restart(): void {
    this.wallStart = this.now();
  }

  /** Milliseconds to wait before running on, given the VP's reference time (100 ns units since the boot began). */
  delayMs(referenceTime100ns: number): number {
    const ahead = referenceTime100ns / 10_000 - (this.now() - this.wallStart);
    return ahead > SLACK_MS ? ahead : 0;
  }

  /** The reference time to set the VP's clock forward to when it has fallen behind the host's, else -1. */
  catchUpTo(referenceTime100ns: number): number {
    const host = Math.floor((this.now() - this.wallStart) * 10_000);
    return host - referenceTime100ns >= CATCH_UP_MIN_100NS ? host : -1;
  }
}
