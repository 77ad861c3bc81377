// VMBus for one boot of a VM: the channel server (src/vmbus/server) over the partition's SynIC and RAM, built
// with the machine and thrown away with it. The machine's VSPs are added here (`addVsp`); the worker adds the
// ones that live across boots to every new machine. The server's log lines are diagnostics: all of them go to
// the trace stream when VMBus tracing is on; otherwise only the ones reporting a problem (a refused message, a
// dropped packet, a failed post), because a stock guest causes none. A guest controls how many problem lines
// there are, so they are rate-limited: a hostile guest cannot flood the host's stderr.
import type { VidPartition } from '../vid/index.js';
import { VmbusServer, type Vsp } from '../vmbus/index.js';
import { LogLimiter } from './log-limiter.js';

export interface VmbusHostOptions {
  /** Where diagnostics go (the worker's trace stream). */
  write(text: string): void;
  /** Every server line, not only problems. */
  traceAll: boolean;
  /** The newest VMBus version to offer (VmConfig.vmbusVersion); default the newest the server has. */
  maxVersion?: number;
  /** The clock for rate limiting (tests replace it). */
  now?: () => number;
}

export class VmbusHost {
  readonly server: VmbusServer;
  private readonly limiter: LogLimiter;

  constructor(partition: VidPartition, private readonly opts: VmbusHostOptions) {
    this.limiter = new LogLimiter((text) => opts.write(text), 20, 1000, opts.now);
    this.server = new VmbusServer({
      synic: partition.synicPort(),
      pages: partition.guestPages(),
      vpCount: partition.vpCount,
      log: (line, problem) => this.log(line, problem),
      maxVersion: opts.maxVersion,
    });
  }

  /** Offer a device to the guest (at its REQUESTOFFERS, or at once if it already asked). */
  addVsp(vsp: Vsp): void {
    this.server.addVsp(vsp);
  }

  /** Take a device away (the guest sees a rescind). */
  removeVsp(vsp: Vsp): void {
    this.server.removeVsp(vsp);
  }

  /** The boot ends: every channel is closed (the VSPs' close() runs), GPADLs are dropped. */
  dispose(): void {
    this.server.reset();
  }

  /** `problem` lines (the server's own verdict: refused, dropped, failed) always; narration only when tracing. */
  private log(line: string, problem: boolean): void {
    if (this.opts.traceAll || problem) this.limiter.line(`hypatia: ${line}`);
  }

  inspect(): Record<string, unknown> {
    return { ...this.server.inspect(), suppressedLogLines: this.limiter.suppressedTotal };
  }
}
