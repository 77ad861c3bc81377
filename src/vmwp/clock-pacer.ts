// Keeps a guest's virtual time from running ahead of the host's clock. Virtual time advances with retired
// instructions and jumps over idle (a halted VP skips to its next timer), so an idle guest would otherwise see
// hours pass in seconds and its clock race ahead of the host's. The pacer measures how far the VP's reference
// time is ahead of wall time since the boot began and says how long to wait. It never changes what the guest
// observes in virtual time (runs stay deterministic); it only stretches the host's wall time to match.
import { performance } from 'node:perf_hooks';

/** Ahead by less than this is not worth a sleep (timer granularity). */
const SLACK_MS = 20;

export class ClockPacer {
  private wallStart = performance.now();

  /** A new boot: its reference time starts again at 0. */
  restart(): void {
    this.wallStart = performance.now();
  }

  /** Milliseconds to wait before running on, given the VP's reference time (100 ns units since the boot began). */
  delayMs(referenceTime100ns: number): number {
    const ahead = referenceTime100ns / 10_000 - (performance.now() - this.wallStart);
    return ahead > SLACK_MS ? ahead : 0;
  }
}
