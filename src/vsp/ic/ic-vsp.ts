// The integration-component framework: what heartbeat, shutdown, time sync and KVP share as VSPs.
//
// Hyper-V's ICs are host-driven (Linux drivers/hv/hv_util.c: the guest only answers). When the guest opens the
// channel, the host sends NEGOTIATE offering framework and service versions; the guest picks the first of its
// own preference list that the host offered (channel_mgmt.c vmbus_prep_negotiate_resp) and echoes the buffer
// with counts 1/1, or 0/0 when nothing matched. After that the host sends service requests with icflags
// TRANSACTION|REQUEST and a VMBus transaction id the guest echoes in its TRANSACTION|RESPONSE answer; that id
// is how answers are matched to requests here. Packets are in-band with VMBus flags 0: Linux never sends a
// VMBus completion for them.
import { PACKET_TYPE_DATA_INBAND, RingStatus } from '../../vmbus/index.js';
import type { ChannelOffer, IncomingPacket, Vsp, VspChannel } from '../../vmbus/index.js';
import {
  buildIcPacket, buildNegotiate, formatVersion, IcFlag, IcMsgType, parseIcHeader, parseNegotiateAnswer,
} from './icmsg.js';
import type { IcHeader, IcVersion } from './icmsg.js';
import { Listeners } from './listeners.js';
import type { Unsubscribe } from './listeners.js';

/** The IC framework versions every service offers (Linux prefers 3.0, then 1.0; OpenVMM offers both). */
export const FRAMEWORK_VERSIONS: readonly IcVersion[] = [{ major: 1, minor: 0 }, { major: 3, minor: 0 }];

/**
 * closed: no channel. negotiating: NEGOTIATE sent, no answer yet. ready: versions agreed, service messages flow.
 * refused: the guest matched none of our versions (it stays open but nothing more is sent).
 */
export type IcPhase = 'closed' | 'negotiating' | 'ready' | 'refused';

export interface IcStateEvent {
  readonly phase: IcPhase;
  readonly framework: IcVersion | null;
  readonly service: IcVersion | null;
}

export interface IcServiceOptions {
  /** Instance GUID of the offer; each service has a fixed default. */
  readonly instanceId?: string;
  /**
   * Log sink; defaults to silence. `problem` is true for what a well-behaved guest never causes (a dropped
   * packet, a refused open, a failed send) as against narration (negotiated versions, requests made).
   */
  readonly log?: (msg: string, problem: boolean) => void;
}

/** Host -> guest packets kept while the ring is full, at most this many; older are never dropped, newer are. */
const MAX_QUEUED = 16;

export interface IcInspect {
  readonly name: string;
  readonly relid: number | null;
  readonly phase: IcPhase;
  readonly framework: string | null;
  readonly service: string | null;
  readonly sent: number;
  readonly received: number;
  readonly dropped: number;
  readonly queued: number;
}

export abstract class IcVsp implements Vsp {
  readonly offer: ChannelOffer;
  protected channel: VspChannel | null = null;
  private phaseValue: IcPhase = 'closed';
  private frameworkValue: IcVersion | null = null;
  private serviceValue: IcVersion | null = null;
  /** VMBus transaction ids of our requests; Linux echoes them. Never 0 (0 reads as "unsolicited"). */
  private nextTransId = 1;
  private negotiateTransId = 0;
  private nextIcTransaction = 0;
  private readonly queue: { transId: number; payload: Uint8Array }[] = [];
  private readonly timers = new Set<ReturnType<typeof setInterval>>();
  private packetsSent = 0;
  private packetsReceived = 0;
  private packetsDropped = 0;
  protected readonly log: (msg: string, problem?: boolean) => void;
  private readonly stateListeners: Listeners<IcStateEvent>;

  protected constructor(
    offer: ChannelOffer,
    /** icmsgtype of this service's messages. */
    protected readonly messageType: number,
    /** Service versions offered, in the order sent (the guest chooses by its own preference). */
    protected readonly serviceVersions: readonly IcVersion[],
    opts: IcServiceOptions,
  ) {
    this.offer = offer;
    const sink = opts.log ?? (() => {});
    this.log = (msg, problem = false) => sink(`ic/${offer.name}: ${msg}`, problem);
    this.stateListeners = new Listeners((msg) => this.log(msg, true));
  }

  get phase(): IcPhase { return this.phaseValue; }
  /** The framework version the guest chose, once ready. */
  get framework(): IcVersion | null { return this.frameworkValue; }
  /** The service version the guest chose, once ready. */
  get service(): IcVersion | null { return this.serviceValue; }

  /** Be told of every phase change (open, negotiated, refused, closed). */
  onStateChange(fn: (e: IcStateEvent) => void): Unsubscribe { return this.stateListeners.add(fn); }

  inspect(): IcInspect {
    return {
      name: this.offer.name,
      relid: this.channel ? this.channel.relid : null,
      phase: this.phaseValue,
      framework: this.frameworkValue ? formatVersion(this.frameworkValue) : null,
      service: this.serviceValue ? formatVersion(this.serviceValue) : null,
      sent: this.packetsSent,
      received: this.packetsReceived,
      dropped: this.packetsDropped,
      queued: this.queue.length,
    };
  }

  // ---- Vsp ----

  open(channel: VspChannel, _userData: Uint8Array): boolean {
    if (this.channel) {
      this.log(`refusing a second open (relid ${channel.relid}) while relid ${this.channel.relid} is open`, true);
      return false;
    }
    this.channel = channel;
    this.setPhase('negotiating');
    this.negotiateTransId = this.allocTransId();
    this.enqueue(this.negotiateTransId, buildNegotiate(FRAMEWORK_VERSIONS, this.serviceVersions, this.allocIcTransaction()));
    return true;
  }

  packet(channel: VspChannel, packet: IncomingPacket): void {
    if (channel !== this.channel) return;
    this.packetsReceived++;
    if (packet.type !== PACKET_TYPE_DATA_INBAND) return this.drop(`packet type ${packet.type}`);
    const h = parseIcHeader(packet.payload);
    if (!h) return this.drop(`short packet (${packet.payload.byteLength} bytes)`);
    if ((h.flags & IcFlag.RESPONSE) === 0) return this.drop(`icflags ${h.flags} without RESPONSE`);
    if (packet.transIdHi !== 0) return this.drop('transaction id we never sent');
    if (h.msgType === IcMsgType.NEGOTIATE) return this.negotiated(h, packet);
    if (this.phaseValue !== 'ready') return this.drop(`message type ${h.msgType} before negotiation`);
    if (h.msgType !== this.messageType) return this.drop(`message type ${h.msgType}`);
    if (!this.response(h, packet.payload, packet.transIdLo)) this.drop(`unexpected or malformed response (transaction ${packet.transIdLo})`);
  }

  close(channel: VspChannel): void {
    if (channel !== this.channel) return;
    for (const t of this.timers) clearInterval(t);
    this.timers.clear();
    this.queue.length = 0;
    this.channel = null;
    this.frameworkValue = null;
    this.serviceValue = null;
    this.negotiateTransId = 0;
    this.phaseValue = 'closed'; // before closed(), so the service sees itself closed
    this.closed();
    this.setPhase('closed');
  }

  writable(channel: VspChannel): void {
    if (channel === this.channel) this.flush();
  }

  // ---- for the services ----

  /** The guest answered one of our requests (already checked: RESPONSE, our message type, ready). Return false to count it dropped. */
  protected abstract response(h: IcHeader, payload: Uint8Array, transId: number): boolean;
  /** Negotiation finished with versions agreed. */
  protected abstract ready(): void;
  /** The channel closed; forget per-channel state (timers are already cleared). */
  protected abstract closed(): void;

  /**
   * Send one service request with `bodySize` bytes of body written by `fill` (which gets the whole payload and
   * writes at IC_BODY). Returns the VMBus transaction id, or 0 when not ready or the queue is full.
   */
  protected sendRequest(bodySize: number, fill: (payload: Uint8Array) => void): number {
    if (this.phaseValue !== 'ready' || !this.frameworkValue || !this.serviceValue) return 0;
    if (this.queue.length >= MAX_QUEUED) { this.log('ring full and queue full: request not sent', true); return 0; }
    const payload = buildIcPacket({
      frame: this.frameworkValue, msgType: this.messageType, msg: this.serviceValue,
      transactionId: this.allocIcTransaction(), flags: IcFlag.TRANSACTION | IcFlag.REQUEST,
    }, bodySize);
    fill(payload);
    const transId = this.allocTransId();
    this.enqueue(transId, payload);
    return transId;
  }

  /** Run `fn` every `ms` while the channel is open; cleared on close and never keeps the process alive. */
  protected every(ms: number, fn: () => void): void {
    const t = setInterval(() => {
      try { fn(); } catch (err) { this.log(`timer threw: ${err instanceof Error ? err.message : String(err)}`, true); }
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  // ---- internals ----

  private negotiated(h: IcHeader, packet: IncomingPacket): void {
    if (this.phaseValue !== 'negotiating' || packet.transIdLo !== this.negotiateTransId) {
      return this.drop(`NEGOTIATE answer out of turn (transaction ${packet.transIdLo})`);
    }
    const answer = parseNegotiateAnswer(packet.payload, FRAMEWORK_VERSIONS, this.serviceVersions);
    if (!answer) return this.drop(`malformed NEGOTIATE answer (${h.length} bytes)`);
    if (answer.refused) {
      this.log('the guest supports none of the offered versions', true);
      this.setPhase('refused');
      return;
    }
    this.frameworkValue = answer.framework;
    this.serviceValue = answer.service;
    this.log(`negotiated framework ${formatVersion(answer.framework)}, service ${formatVersion(answer.service)}`);
    this.setPhase('ready');
    this.ready();
  }

  private enqueue(transId: number, payload: Uint8Array): void {
    this.queue.push({ transId, payload });
    this.flush();
  }

  private flush(): void {
    const ch = this.channel;
    while (ch && this.queue.length > 0) {
      const { transId, payload } = this.queue[0];
      const status = ch.send(PACKET_TYPE_DATA_INBAND, 0, transId, 0, payload);
      if (status === RingStatus.Full) return; // writable() resumes
      this.queue.shift();
      if (status === RingStatus.Ok || status === RingStatus.OkSignal) this.packetsSent++;
      else this.log(`send failed: ring status ${status}`, true);
    }
  }

  private drop(why: string): void {
    this.packetsDropped++;
    // A guest can send garbage in a loop: log the first ones, then a sample.
    if (this.packetsDropped <= 20 || this.packetsDropped % 1000 === 0) this.log(`dropped guest packet #${this.packetsDropped}: ${why}`, true);
  }

  private allocTransId(): number {
    const id = this.nextTransId;
    this.nextTransId = id >= 0xffff_ffff ? 1 : id + 1;
    return id;
  }

  private allocIcTransaction(): number {
    const id = this.nextIcTransaction;
    this.nextIcTransaction = (id + 1) & 0xff;
    return id;
  }

  private setPhase(phase: IcPhase): void {
    this.phaseValue = phase;
    this.stateListeners.emit({ phase, framework: this.frameworkValue, service: this.serviceValue });
  }
}
