// Keeps a guest's virtual time from running ahead of the host's clock. Virtual time advances with retired
// instructions and jumps over idle (a halted VP skips to its next timer), so an idle guest would otherwise see
// hours pass in seconds and its clock race ahead of the host's. The pacer measures how far the VP's reference
// time is ahead of wall time since the boot began and says how long to wait. It never changes what the guest
// observes in virtual time (runs stay deterministic); it only stretches the host's wall time to match.
// Time the guest lost while it ran slower than real time (busy on the software processor) is not paid back:
// the pacer's origin moves with it, so idle virtual time never passes faster than wall time. Paying it back
// would let an idle guest's clock run several times faster than the host's for as long as the debt lasted
// (found by the time sync check of test/linux/integration-services: +3 s of guest time per wall second after
// a slow boot); the time sync service steps the guest's clock forward for what it lost instead.
import { performance } from 'node:perf_hooks';

/** Ahead by less than this is not worth a sleep (timer granularity). */
const SLACK_MS = 20;

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
    const virtualMs = referenceTime100ns / 10_000;
    const now = this.now();
    const ahead = virtualMs - (now - this.wallStart);
    if (ahead < 0) this.wallStart = now - virtualMs; // behind: forgive it (see above)
    return ahead > SLACK_MS ? ahead : 0;
  }
}
