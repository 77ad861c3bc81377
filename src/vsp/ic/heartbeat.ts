// Heartbeat IC (Linux hv_util.c heartbeat_onchannelcallback): the host sends a sequence number periodically,
// the guest adds 1 and echoes the buffer. Hyper-V judges the guest alive from the answers; so does this host.
import { IC_BODY, IcMsgType, icVersion, readU64, writeU64 } from './icmsg.js';
import type { IcHeader, IcVersion } from './icmsg.js';
import { IcVsp } from './ic-vsp.js';
import type { IcServiceOptions } from './ic-vsp.js';
import { Listeners } from './listeners.js';
import type { Unsubscribe } from './listeners.js';

export const HEARTBEAT_CLASS_ID = '57164f39-9115-4e78-ab55-382f3bd5422d';
export const HEARTBEAT_INSTANCE_ID = 'bcf10672-1f9c-4bf9-a20d-205693792b30';
/** Linux 6.1 prefers 3.0, then 1.0. */
export const HEARTBEAT_VERSIONS: readonly IcVersion[] = [icVersion(1, 0), icVersion(3, 0)];
/** struct heartbeat_msg_data: u64 seq_num + u32 reserved[8]. Linux needs at least the u64. */
export const HEARTBEAT_BODY_SIZE = 40;

export interface HeartbeatOptions extends IcServiceOptions {
  /** How often the host sends a heartbeat (Hyper-V: every few seconds). Default 2000 ms. */
  readonly periodMs?: number;
  /** The guest counts as alive while its last answer is at most this many periods old. Default 3. */
  readonly missedPeriods?: number;
  /** Clock in ms for lastResponseAt and liveness; default Date.now. */
  readonly now?: () => number;
}

export interface HeartbeatState {
  /** The guest answered within the last `missedPeriods` periods. */
  readonly alive: boolean;
  /** The channel is open and negotiated. */
  readonly negotiated: boolean;
  /** The sequence number of the guest's last valid answer (the host's number + 1), or null. */
  readonly lastSequence: number | null;
  /** When that answer arrived (ms, the `now` clock), or null. */
  readonly lastResponseAt: number | null;
  readonly sent: number;
  readonly answered: number;
}

export type HeartbeatEvent =
  | { readonly type: 'beat'; readonly sequence: number; readonly at: number }
  | { readonly type: 'alive'; readonly alive: boolean };

/** Outstanding requests remembered for matching answers; older ones are forgotten. */
const MAX_OUTSTANDING = 8;

export class HeartbeatVsp extends IcVsp {
  private readonly periodMs: number;
  private readonly missedPeriods: number;
  private readonly now: () => number;
  private readonly events: Listeners<HeartbeatEvent>;
  /** The next sequence number to send; starts at 1 so the guest's answer 2 is never confused with "none". */
  private nextSequence = 1;
  private readonly outstanding = new Map<number, number>();
  private lastSequence: number | null = null;
  private lastResponseAt: number | null = null;
  private sent = 0;
  private answered = 0;
  private wasAlive = false;

  constructor(opts: HeartbeatOptions = {}) {
    super({ classId: HEARTBEAT_CLASS_ID, instanceId: opts.instanceId ?? HEARTBEAT_INSTANCE_ID, name: 'heartbeat' },
      IcMsgType.HEARTBEAT, HEARTBEAT_VERSIONS, opts);
    this.periodMs = opts.periodMs ?? 2000;
    this.missedPeriods = opts.missedPeriods ?? 3;
    this.now = opts.now ?? Date.now;
    this.events = new Listeners(this.log);
  }

  /** Beats and liveness changes. */
  on(fn: (e: HeartbeatEvent) => void): Unsubscribe { return this.events.add(fn); }

  state(): HeartbeatState {
    return {
      alive: this.isAlive(),
      negotiated: this.phase === 'ready',
      lastSequence: this.lastSequence,
      lastResponseAt: this.lastResponseAt,
      sent: this.sent,
      answered: this.answered,
    };
  }

  protected override ready(): void {
    this.beat();
    this.every(this.periodMs, () => this.beat());
  }

  protected override closed(): void {
    this.outstanding.clear();
    this.checkAlive();
  }

  protected override response(_h: IcHeader, payload: Uint8Array, transId: number): boolean {
    const sentSeq = this.outstanding.get(transId);
    if (sentSeq === undefined || payload.byteLength < IC_BODY + 8) return false;
    this.outstanding.delete(transId);
    const seq = readU64(payload, IC_BODY);
    if (seq !== sentSeq + 1) return false;
    this.lastSequence = seq;
    this.lastResponseAt = this.now();
    this.answered++;
    this.events.emit({ type: 'beat', sequence: seq, at: this.lastResponseAt });
    this.checkAlive();
    return true;
  }

  private beat(): void {
    this.checkAlive();
    const seq = this.nextSequence;
    const transId = this.sendRequest(HEARTBEAT_BODY_SIZE, (p) => writeU64(p, IC_BODY, seq));
    if (transId === 0) return;
    this.nextSequence = seq + 2; // the guest's answer is seq + 1; keep the host's numbers distinct from it
    if (this.nextSequence >= Number.MAX_SAFE_INTEGER - 2) this.nextSequence = 1;
    this.sent++;
    this.outstanding.set(transId, seq);
    if (this.outstanding.size > MAX_OUTSTANDING) {
      const oldest = this.outstanding.keys().next().value;
      if (oldest !== undefined) this.outstanding.delete(oldest);
    }
  }

  private isAlive(): boolean {
    return this.phase === 'ready' && this.lastResponseAt !== null
      && this.now() - this.lastResponseAt <= this.missedPeriods * this.periodMs;
  }

  private checkAlive(): void {
    const alive = this.isAlive();
    if (alive !== this.wasAlive) {
      this.wasAlive = alive;
      this.events.emit({ type: 'alive', alive });
    }
  }
}
