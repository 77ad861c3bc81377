// A SynicPort with the guest's side in the same process, for tests and the guest bus client: the server's
// postMessage/signalEvent land in queues the guest side reads; the guest side's post/signal call the handlers
// the server registered, synchronously, with the hypervisor's checks (connection id known, payload <= 240 bytes,
// flag in range) and its status codes.
import { HvStatus } from '../hv/hypercall/codes.js';
import type { SynicPort } from './synic-port.js';

export interface LoopbackMessage { vp: number; sint: number; type: number; payload: Uint8Array }

const MAX_PAYLOAD = 240;
const SINT_COUNT = 16;
const FLAGS_PER_SINT = 2048;
const MAX_CONNECTION_ID = 0xffffff;

export class LoopbackSynic implements SynicPort {
  /** Host -> guest messages not yet taken by the guest side, in posting order. */
  readonly messages: LoopbackMessage[] = [];
  private readonly flags: Uint8Array[]; // per VP: SINT * 2048 + flag
  private readonly messageHandlers = new Map<number, (type: number, payload: Uint8Array) => number>();
  private readonly eventHandlers = new Map<number, { flagCount: number; handler: (flag: number) => void }>();
  readonly stats = { posted: 0, signalled: 0, guestPosts: 0, guestSignals: 0 };

  constructor(readonly vpCount: number) {
    this.flags = Array.from({ length: vpCount }, () => new Uint8Array(SINT_COUNT * FLAGS_PER_SINT));
  }

  // ---- the root's side (SynicPort) ----

  postMessage(vpIndex: number, sint: number, type: number, payload: Uint8Array): number {
    if (!this.validVp(vpIndex)) return HvStatus.INVALID_VP_INDEX;
    if (!(sint >= 0 && sint < SINT_COUNT) || type === 0 || payload.length > MAX_PAYLOAD) return HvStatus.INVALID_PARAMETER;
    this.stats.posted++;
    this.messages.push({ vp: vpIndex, sint, type, payload: payload.slice() });
    return HvStatus.SUCCESS;
  }

  signalEvent(vpIndex: number, sint: number, flag: number): number {
    if (!this.validVp(vpIndex)) return HvStatus.INVALID_VP_INDEX;
    if (!(sint >= 0 && sint < SINT_COUNT) || !(flag >= 0 && flag < FLAGS_PER_SINT)) return HvStatus.INVALID_PARAMETER;
    this.stats.signalled++;
    this.flags[vpIndex][sint * FLAGS_PER_SINT + flag] = 1;
    return HvStatus.SUCCESS;
  }

  setMessageHandler(connectionId: number, handler: ((type: number, payload: Uint8Array) => number) | null): boolean {
    if (!validId(connectionId)) return false;
    if (handler) this.messageHandlers.set(connectionId, handler); else this.messageHandlers.delete(connectionId);
    return true;
  }

  setEventHandler(connectionId: number, flagCount: number, handler: ((flag: number) => void) | null): boolean {
    if (!validId(connectionId)) return false;
    if (!handler) { this.eventHandlers.delete(connectionId); return true; }
    if (!Number.isInteger(flagCount) || flagCount < 1 || flagCount > FLAGS_PER_SINT) return false;
    this.eventHandlers.set(connectionId, { flagCount, handler });
    return true;
  }

  // ---- the guest's side ----

  /** HvPostMessage: the handler's status, INVALID_CONNECTION_ID or INVALID_PARAMETER. */
  guestPostMessage(connectionId: number, type: number, payload: Uint8Array): number {
    if (type === 0 || (type & 0x80000000) !== 0 || payload.length > MAX_PAYLOAD) return HvStatus.INVALID_PARAMETER;
    const h = this.messageHandlers.get(connectionId);
    if (!h) return HvStatus.INVALID_CONNECTION_ID;
    this.stats.guestPosts++;
    return h(type, payload);
  }

  /** HvSignalEvent. */
  guestSignalEvent(connectionId: number, flag = 0): number {
    const c = this.eventHandlers.get(connectionId);
    if (!c) return HvStatus.INVALID_CONNECTION_ID;
    if (flag >= c.flagCount) return HvStatus.INVALID_PARAMETER;
    this.stats.guestSignals++;
    c.handler(flag);
    return HvStatus.SUCCESS;
  }

  /** Test-and-clear of event flag `flag` of SINT `sint` on VP `vp` (what Linux's vmbus_chan_sched does). */
  takeEvent(vp: number, sint: number, flag: number): boolean {
    const f = this.flags[vp];
    if (!f || f[sint * FLAGS_PER_SINT + flag] === 0) return false;
    f[sint * FLAGS_PER_SINT + flag] = 0;
    return true;
  }

  /** Whether a connection id is served (tests check that a channel's id goes away after release). */
  servesEvents(connectionId: number): boolean { return this.eventHandlers.has(connectionId); }
  servesMessages(connectionId: number): boolean { return this.messageHandlers.has(connectionId); }

  private validVp(vp: number): boolean { return Number.isInteger(vp) && vp >= 0 && vp < this.vpCount; }
}

function validId(id: number): boolean { return Number.isInteger(id) && id >= 1 && id <= MAX_CONNECTION_ID; }
