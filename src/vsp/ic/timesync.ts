// Time synchronization IC (Linux hv_util.c timesync_onchannelcallback / adj_guesttime): the host sends its UTC
// time as a Windows FILETIME (100 ns units since 1601-01-01). With ICTIMESYNCFLAG_SYNC the guest sets its clock
// (do_settimeofday64); with SAMPLE it only refreshes the "hyperv" PTP clock. Version 4.0 messages
// (ictimesync_ref_data) also carry the guest's partition reference time at the moment of the sample, and
// Linux adds the reference time elapsed since then, so the sample stays exact however late the guest reads it.
// Older versions (ictimesync_data) make Linux use its own reference counter on receipt instead.
//
// The time sent is the host's wall clock. The guest's clock then runs on its reference time, which is virtual
// time: slower than the wall clock while the emulated CPU is busy, faster while halts are fast-forwarded. Linux
// sets its clock only on SYNC (SAMPLEs just feed its PTP clock), so when the host sees the guest's reference
// time drift from the wall clock since the last SYNC by more than maxDriftMs, it sends another SYNC. The
// host can compute that drift exactly: the guest's clock is (host time at SYNC) + (reference time since SYNC).
import { IC_BODY, IcMsgType, icVersion, writeU64 } from './icmsg.js';
import type { IcHeader, IcVersion } from './icmsg.js';
import { IcVsp } from './ic-vsp.js';
import type { IcServiceOptions } from './ic-vsp.js';

export const TIMESYNC_CLASS_ID = '9527e630-d0ae-497b-adce-e80ab0175caf';
export const TIMESYNC_INSTANCE_ID = '7dedede8-c180-4745-9149-f0889de2d788';
/** Linux 6.1 prefers 4.0, 3.0, 1.0. 4.0 is offered only when the guest's reference time is known. */
export const TIMESYNC_VERSIONS_WITH_REFTIME: readonly IcVersion[] = [icVersion(1, 0), icVersion(3, 0), icVersion(4, 0)];
export const TIMESYNC_VERSIONS: readonly IcVersion[] = [icVersion(1, 0), icVersion(3, 0)];

/** ICTIMESYNCFLAG_*. */
export const TimesyncFlag = { PROBE: 0, SYNC: 1, SAMPLE: 2 } as const;

/** struct ictimesync_data (versions 1.0 and 3.0): u64 parenttime, u64 childtime, u64 roundtriptime, u8 flags. */
export const TimesyncData = { parentTime: 0, childTime: 8, roundTripTime: 16, flags: 24, SIZE: 25 } as const;
/** struct ictimesync_ref_data (4.0): u64 parenttime, u64 vmreferencetime, u8 flags, i8 leapflags, i8 stratum, u8 reserved[3]. */
export const TimesyncRefData = { parentTime: 0, vmReferenceTime: 8, flags: 16, leapFlags: 17, stratum: 18, SIZE: 22 } as const;

/** 100 ns units from 1601-01-01 to 1970-01-01 (Linux WLTIMEDELTA). */
export const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

/** A Unix time in ms (fractions kept to 100 ns) as a Windows FILETIME. */
export function unixMsToFiletime(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 10_000n + BigInt(Math.round((ms - whole) * 10_000)) + FILETIME_UNIX_EPOCH;
}

export interface TimesyncOptions extends IcServiceOptions {
  /** How often a SAMPLE follows the first SYNC. Default 5000 ms. */
  readonly samplePeriodMs?: number;
  /** How often the drift between the guest's reference time and the wall clock is checked. Default 1000 ms. */
  readonly checkPeriodMs?: number;
  /**
   * A drift larger than this (ms) since the last SYNC triggers a new SYNC. Default 250 ms: the worker's
   * clock pacing lets virtual time wander ~100 ms around the wall clock, which is not worth stepping for.
   */
  readonly maxDriftMs?: number;
  /** The host's wall clock in ms since the Unix epoch (fractions allowed); default performance.timeOrigin + now(). */
  readonly now?: () => number;
  /**
   * The guest's partition reference time (HV_X64_MSR_TIME_REF_COUNT, 100 ns units) right now. When given,
   * version 4.0 is offered and each sample carries it.
   */
  readonly referenceTime?: () => number;
}

export interface TimesyncState {
  readonly negotiated: boolean;
  readonly version: string | null;
  readonly samplesSent: number;
  readonly answered: number;
  /** Host wall time (ms) of the last sample sent, and its flags. */
  readonly lastSentAt: number | null;
  readonly lastFlags: number | null;
  /** SYNCs sent (the first one included). */
  readonly syncs: number;
  /** The guest clock's drift from the host's (ms, positive: guest ahead) at the last check, when known. */
  readonly lastDriftMs: number | null;
}

const MAX_OUTSTANDING = 16;

export class TimesyncVsp extends IcVsp {
  private readonly samplePeriodMs: number;
  private readonly checkPeriodMs: number;
  private readonly maxDriftMs: number;
  private readonly now: () => number;
  /** Host wall time and guest reference time of the last SYNC (the guest's clock origin since). */
  private syncWall = 0;
  private syncRef: number | null = null;
  private syncs = 0;
  private lastDriftMs: number | null = null;
  private readonly referenceTime: (() => number) | null;
  private readonly outstanding = new Set<number>();
  private samplesSent = 0;
  private answered = 0;
  private lastSentAt: number | null = null;
  private lastFlags: number | null = null;

  constructor(opts: TimesyncOptions = {}) {
    super({ classId: TIMESYNC_CLASS_ID, instanceId: opts.instanceId ?? TIMESYNC_INSTANCE_ID, name: 'timesync' },
      IcMsgType.TIMESYNC, opts.referenceTime ? TIMESYNC_VERSIONS_WITH_REFTIME : TIMESYNC_VERSIONS, opts);
    this.samplePeriodMs = opts.samplePeriodMs ?? 5000;
    this.checkPeriodMs = opts.checkPeriodMs ?? 1000;
    this.maxDriftMs = opts.maxDriftMs ?? 250;
    this.now = opts.now ?? (() => performance.timeOrigin + performance.now());
    this.referenceTime = opts.referenceTime ?? null;
  }

  /** Send a SYNC now, which makes the guest set its clock. False when not negotiated. */
  sync(): boolean { return this.send(TimesyncFlag.SYNC); }

  state(): TimesyncState {
    const v = this.service;
    return {
      negotiated: this.phase === 'ready',
      version: v ? `${v.major}.${v.minor}` : null,
      samplesSent: this.samplesSent,
      answered: this.answered,
      lastSentAt: this.lastSentAt,
      lastFlags: this.lastFlags,
      syncs: this.syncs,
      lastDriftMs: this.lastDriftMs,
    };
  }

  protected override ready(): void {
    this.send(TimesyncFlag.SYNC);
    this.every(Math.min(this.checkPeriodMs, this.samplePeriodMs), () => this.tick());
  }

  protected override closed(): void {
    this.outstanding.clear();
    this.syncRef = null;
    this.lastDriftMs = null;
  }

  private tick(): void {
    if (this.referenceTime !== null && this.syncRef !== null) {
      const drift = (this.referenceTime() - this.syncRef) / 10_000 - (this.now() - this.syncWall);
      this.lastDriftMs = drift;
      if (Math.abs(drift) > this.maxDriftMs) {
        // Small resyncs are routine while the guest boots (virtual time lags); only big jumps are worth a line.
        if (Math.abs(drift) >= 1000) this.log(`guest clock drifted ${(drift / 1000).toFixed(1)} s from the host's: SYNC`);
        this.send(TimesyncFlag.SYNC);
        return;
      }
    }
    if (this.lastSentAt === null || this.now() - this.lastSentAt >= this.samplePeriodMs) this.send(TimesyncFlag.SAMPLE);
  }

  protected override response(_h: IcHeader, _payload: Uint8Array, transId: number): boolean {
    if (!this.outstanding.delete(transId)) return false;
    this.answered++;
    return true;
  }

  private send(flags: number): boolean {
    const v = this.service;
    if (!v) return false;
    const v4 = v.major >= 4 && this.referenceTime !== null;
    // Both clocks read together: the sample says "the host's time was `at` when the guest's reference time was `ref`".
    const at = this.now();
    const ref = this.referenceTime ? Math.max(0, Math.floor(this.referenceTime())) : null;
    const transId = this.sendRequest(v4 ? TimesyncRefData.SIZE : TimesyncData.SIZE, (p) => {
      const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
      dv.setBigUint64(IC_BODY + TimesyncData.parentTime, unixMsToFiletime(at), true);
      if (v4 && ref !== null) {
        writeU64(p, IC_BODY + TimesyncRefData.vmReferenceTime, ref);
        p[IC_BODY + TimesyncRefData.flags] = flags;
      } else {
        p[IC_BODY + TimesyncData.flags] = flags;
      }
    });
    if (transId === 0) return false;
    this.samplesSent++;
    if (flags === TimesyncFlag.SYNC) {
      this.syncs++;
      this.syncWall = at;
      this.syncRef = ref;
    }
    this.lastSentAt = at;
    this.lastFlags = flags;
    this.outstanding.add(transId);
    if (this.outstanding.size > MAX_OUTSTANDING) {
      const oldest = this.outstanding.values().next().value;
      if (oldest !== undefined) this.outstanding.delete(oldest);
    }
    return true;
  }
}
