// Guest -> root communication through the SynIC: a child's HvCallPostMessage and HvCallSignalEvent name a
// connection id; the root registers, per child partition, what serves each id (later the VMBus server).
// Inputs are the guest's and are validated before any handler sees them.
import { HvStatus } from '../hypercall/codes.js';
import type { Hypervisor } from '../hypervisor.js';
import type { Partition } from '../partition.js';
import {
  CONNECTION_ID_MASK, EVENT_FLAGS_PER_SINT, HV_MESSAGE_TYPE_HYPERVISOR_BIT, HvMessageTypeNone, PostMessageIn,
  SignalEventIn, SlotLayout,
} from './layout.js';

/**
 * A message a guest posted. `payload` is a view of the caller's input page, valid only during the call (copy
 * what you keep). Returns an HV status for the guest (SUCCESS, or e.g. INSUFFICIENT_BUFFERS when busy).
 */
export type MessageHandler = (type: number, payload: Uint8Array) => number;
/** A guest signalled flag `flag` of the connection. */
export type EventHandler = (flag: number) => void;

interface EventConnection {
  flagCount: number;
  handler: EventHandler;
}

/** A partition's connections: where its guest's messages and events go. */
export class SynicConnections {
  private readonly messages = new Map<number, MessageHandler>();
  private readonly events = new Map<number, EventConnection>();
  readonly stats = { posted: 0, signalled: 0, refused: 0 };

  /** Serve messages on `connectionId` (null removes it). False for an id outside 1..2^24-1. */
  setMessageHandler(connectionId: number, handler: MessageHandler | null): boolean {
    if (!validId(connectionId)) return false;
    if (handler === null) this.messages.delete(connectionId); else this.messages.set(connectionId, handler);
    return true;
  }

  /** Serve event flags 0..flagCount-1 on `connectionId` (null removes it). */
  setEventHandler(connectionId: number, flagCount: number, handler: EventHandler | null): boolean {
    if (!validId(connectionId)) return false;
    if (handler === null) { this.events.delete(connectionId); return true; }
    if (!Number.isInteger(flagCount) || flagCount < 1 || flagCount > EVENT_FLAGS_PER_SINT) return false;
    this.events.set(connectionId, { flagCount, handler });
    return true;
  }

  /** HvCallPostMessage input at host offset `inOff` (256 bytes, already bounds-checked by the dispatcher). */
  post(u8: Uint8Array, dv: DataView, inOff: number): number {
    const id = dv.getUint32(inOff + PostMessageIn.connectionId, true);
    const type = dv.getUint32(inOff + PostMessageIn.messageType, true);
    const size = dv.getUint32(inOff + PostMessageIn.payloadSize, true);
    if ((id & ~CONNECTION_ID_MASK) !== 0 || dv.getUint32(inOff + PostMessageIn.reserved, true) !== 0) return this.refuse(HvStatus.INVALID_PARAMETER);
    // Type 0 is an empty slot; types with bit 31 set are the hypervisor's own (a guest may not forge them).
    if (type === HvMessageTypeNone || (type & HV_MESSAGE_TYPE_HYPERVISOR_BIT) !== 0) return this.refuse(HvStatus.INVALID_PARAMETER);
    if (size > SlotLayout.MAX_PAYLOAD) return this.refuse(HvStatus.INVALID_PARAMETER);
    const h = this.messages.get(id);
    if (h === undefined) return this.refuse(HvStatus.INVALID_CONNECTION_ID);
    this.stats.posted++;
    return h(type, u8.subarray(inOff + PostMessageIn.payload, inOff + PostMessageIn.payload + size));
  }

  /** HvCallSignalEvent input at host offset `inOff` (8 bytes). */
  signal(dv: DataView, inOff: number): number {
    const id = dv.getUint32(inOff + SignalEventIn.connectionId, true);
    const flag = dv.getUint16(inOff + SignalEventIn.flagNumber, true);
    if ((id & ~CONNECTION_ID_MASK) !== 0 || dv.getUint16(inOff + SignalEventIn.reserved, true) !== 0) return this.refuse(HvStatus.INVALID_PARAMETER);
    const c = this.events.get(id);
    if (c === undefined) return this.refuse(HvStatus.INVALID_CONNECTION_ID);
    if (flag >= c.flagCount) return this.refuse(HvStatus.INVALID_PARAMETER);
    this.stats.signalled++;
    c.handler(flag);
    return HvStatus.SUCCESS;
  }

  private refuse(status: number): number {
    this.stats.refused++;
    return status;
  }

  inspect(): Record<string, unknown> {
    return { messageConnections: [...this.messages.keys()], eventConnections: [...this.events.keys()], stats: { ...this.stats } };
  }
}

function validId(id: number): boolean {
  return Number.isInteger(id) && id > 0 && id <= CONNECTION_ID_MASK;
}

/** HvCallPostMessage (0x005C) from a partition: to the connection its parent registered. */
export function postMessageCall(hv: Hypervisor, caller: Partition, inOff: number): number {
  return caller.synicConnections.post(hv.memory.u8, hv.memory.view, inOff);
}

/** HvCallSignalEvent (0x005D) from a partition (Linux uses the fast form). */
export function signalEventCall(hv: Hypervisor, caller: Partition, inOff: number): number {
  return caller.synicConnections.signal(hv.memory.view, inOff);
}
