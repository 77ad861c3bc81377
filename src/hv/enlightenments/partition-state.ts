// The partition-wide synthetic registers (TLFS: the guest OS ID, hypercall and reference TSC MSRs are shared by
// every VP of a partition; a write on one VP is what the others read). 64-bit values as (lo, hi) int32 halves.
import { CrashRegisters } from './crash-msrs.js';

function hex(lo: number, hi: number): string {
  return '0x' + ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16);
}

export class PartitionEnlightenments {
  guestOsIdLo = 0;
  guestOsIdHi = 0;
  hypercallLo = 0;
  hypercallHi = 0;
  referenceTscLo = 0;
  referenceTscHi = 0;
  /** The guest crash registers (crash-msrs.ts). */
  readonly crash = new CrashRegisters();
  /** The last sequence number written into the reference TSC page (0: never written). */
  tscSequence = 0;
  /** Counters for inspection. */
  readonly counters = { hypercallPageWrites: 0, tscPageWrites: 0, msrRefusals: 0 };

  get guestOsIdSet(): boolean {
    return (this.guestOsIdLo | this.guestOsIdHi) !== 0;
  }

  inspect(): Record<string, unknown> {
    return {
      guestOsId: hex(this.guestOsIdLo, this.guestOsIdHi),
      hypercall: hex(this.hypercallLo, this.hypercallHi),
      referenceTsc: hex(this.referenceTscLo, this.referenceTscHi),
      tscSequence: this.tscSequence,
      crash: this.crash.inspect(),
      counters: { ...this.counters },
    };
  }
}
