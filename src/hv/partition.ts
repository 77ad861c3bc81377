// A partition: an isolation domain with its own GPA space (the SLAT map), VPs, installed intercepts and CPUID
// table. The root partition's GPA space is the identity over the SPA pages the hypervisor gave it.
import { softwareCpuidProfile, type CpuidTable } from '../vp/index.js';
import { GpaMap } from './memory/index.js';
import { composeChildCpuid, PartitionEnlightenments, updateFeatureLeaf } from './enlightenments/index.js';
import type { InterceptMessage } from './intercept-message.js';
import { PrivilegeMask } from './privileges.js';
import { SynicConnections } from './synic/index.js';
import type { VirtualProcessor } from './virtual-processor.js';

export const PartitionState = { CREATED: 1, INITIALIZED: 2, FINALIZED: 3, DELETED: 4 } as const;
const STATE_NAMES = ['?', 'created', 'initialized', 'finalized', 'deleted'];

export const MAX_VPS_PER_PARTITION = 64;

/** The root's synchronous intercept handler for one partition (see intercept-message.ts). */
export type InterceptHandler = (message: InterceptMessage) => void;

export class Partition {
  state: number = PartitionState.CREATED;
  readonly vps: (VirtualProcessor | undefined)[] = [];
  /** Installed I/O port intercepts: access mask (read 1, write 2) per port. */
  readonly ioIntercepts = new Uint8Array(65536);
  /** MSR intercepts by index, and a mask for "every MSR the hypervisor does not implement". */
  readonly msrIntercepts = new Map<number, number>();
  msrInterceptAll = 0;
  /**
   * What CPUID returns in this partition: the processor's honest profile, plus (for a child) the hypervisor's
   * leaves 0x40000000.. and the hypervisor-present bit, until the root replaces leaves.
   */
  readonly cpuid: CpuidTable = softwareCpuidProfile();
  /** Partition-wide synthetic registers (guest OS ID, hypercall page, reference TSC page). */
  readonly synthetic = new PartitionEnlightenments();
  interceptHandler: InterceptHandler | null = null;
  /** Where this partition's HvCallPostMessage / HvCallSignalEvent go (registered by the root). */
  readonly synicConnections = new SynicConnections();
  /** Statistics for inspection. */
  readonly counters = { intercepts: 0, hypercalls: 0, dispatches: 0 };

  constructor(
    readonly id: number,
    readonly parent: Partition | null,
    readonly privileges: PrivilegeMask,
    readonly map: GpaMap,
    readonly creationFlags: number,
  ) {
    if (parent !== null) composeChildCpuid(this.cpuid, privileges, MAX_VPS_PER_PARTITION);
  }

  /** The root changed the privilege mask: CPUID 0x40000003 reports privileges, so it follows. */
  privilegesChanged(): void {
    if (this.parent !== null) updateFeatureLeaf(this.cpuid, this.privileges);
  }

  get isRoot(): boolean {
    return this.parent === null;
  }

  /** Drop every VP's cached translations and the decoded code of `count` GPA pages from `firstPage`. */
  invalidate(firstPage: number, count: number): void {
    for (const vp of this.vps) {
      if (vp === undefined) continue;
      vp.engine.flushTlb();
      for (let p = firstPage; p < firstPage + count; p++) vp.engine.invalidateCode(p);
    }
  }

  inspect(): Record<string, unknown> {
    return {
      id: this.id,
      root: this.isRoot,
      state: STATE_NAMES[this.state],
      privileges: '0x' + this.privileges.value.toString(16),
      gpaPages: this.map.pageCount,
      mappedPages: this.map.mappedCount,
      ioIntercepts: countNonZero(this.ioIntercepts),
      msrIntercepts: this.msrIntercepts.size + (this.msrInterceptAll !== 0 ? 1 : 0),
      cpuidLeaves: this.cpuid.size,
      synthetic: this.synthetic.inspect(),
      synicConnections: this.synicConnections.inspect(),
      counters: { ...this.counters },
      vps: this.vps.filter((v) => v !== undefined).map((v) => v!.inspect()),
    };
  }
}

function countNonZero(a: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) n++;
  return n;
}
