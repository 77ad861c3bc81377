// A token bucket for diagnostic lines a guest can provoke (e.g. the VMBus server's refusals): a burst passes,
// then one line per refill interval; what is dropped is counted and reported with the next line that passes.
// A hostile guest can then cost the host at most a trickle of stderr.

export class LogLimiter {
  private tokens: number;
  private lastRefill: number;
  /** Lines dropped since the last one that passed. */
  suppressed = 0;
  /** Lines dropped in all. */
  suppressedTotal = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly burst = 20,
    private readonly refillMs = 1000,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.lastRefill = now();
  }

  /** Write `line` (a newline is added) if the bucket allows, else count it. */
  line(line: string): void {
    const t = this.now();
    const refill = Math.floor((t - this.lastRefill) / this.refillMs);
    if (refill > 0) {
      this.tokens = Math.min(this.burst, this.tokens + refill);
      this.lastRefill += refill * this.refillMs;
    }
    if (this.tokens === 0) { this.suppressed++; this.suppressedTotal++; return; }
    this.tokens--;
    if (this.suppressed > 0) {
      this.write(`hypatia: (${this.suppressed} similar line(s) suppressed)\n`);
      this.suppressed = 0;
    }
    this.write(`${line}\n`);
  }
}
