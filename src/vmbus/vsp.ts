// The VSP framework: what a virtualization service provider implements (`Vsp`) and what the VMBus server gives
// it once the guest opens its channel (`VspChannel`). The server owns offers, GPADLs, rings and signalling; a VSP
// sees only typed packets and guest memory reached through validated page ranges. storvsp, netvsp, synthvid and
// the integration services all have this shape.
import type { Gpadl } from './gpadl.js';
import type { PageRange } from './packet.js';
import type { RingStatus } from './ring-buffer.js';

/** What the server offers the guest for one device (struct vmbus_channel_offer_channel). */
export interface ChannelOffer {
  /** Interface type (device class) GUID in its text form, e.g. heartbeat '57164f39-9115-4e78-ab55-382f3bd5422d'. */
  readonly classId: string;
  /** This device's instance GUID (unique within the VM). */
  readonly instanceId: string;
  /** A short name for logs and inspect(), e.g. 'heartbeat'. */
  readonly name: string;
  /** MMIO megabytes the device asks the guest to reserve (synthvid's framebuffer); default 0. */
  readonly mmioMegabytes?: number;
  /** Offer flags (VMBUS_CHANNEL_*); default 0. */
  readonly flags?: number;
  /** The offer's 120 user-defined bytes (pipe mode etc.); default zeros. */
  readonly userDefined?: Uint8Array;
}

/** A packet the guest wrote into the channel's ring, already checked by the server (descriptor, lengths, ranges). */
export interface IncomingPacket {
  /** PACKET_TYPE_DATA_INBAND, _USING_GPA_DIRECT, _USING_XFER_PAGES or _COMP. */
  readonly type: number;
  /** PACKET_FLAG_COMPLETION_REQUESTED when the guest wants a completion with the same transaction id. */
  readonly flags: number;
  /** The transaction id as two u32 halves (guests use ids past 2^53). */
  readonly transIdLo: number;
  readonly transIdHi: number;
  /** The payload (from offset8 * 8 to the end). A view valid only during the call: copy what you keep. */
  readonly payload: Uint8Array;
  /** For GPA-direct packets, the guest page ranges it names; null otherwise. */
  readonly ranges: readonly PageRange[] | null;
}

/** The server's side of an open channel, handed to the VSP. */
export interface VspChannel {
  /** The channel's relid (child_relid), for logs. */
  readonly relid: number;
  readonly offer: ChannelOffer;
  /**
   * Write one packet to the host -> guest ring and signal the guest when the ring rules call for it. `type` is
   * PACKET_TYPE_DATA_INBAND or PACKET_TYPE_COMP. Returns RingStatus.Ok, or Full when the guest is not draining
   * (nothing is written; the VSP may retry after `writable`), or another status if the ring is broken.
   */
  send(type: number, flags: number, transIdLo: number, transIdHi: number, payload: Uint8Array): RingStatus;
  /**
   * Copy guest memory named by `ranges` (GPA-direct ranges of a packet, or a GPADL's), starting `offset` bytes
   * into them, into `dest`. False — and nothing trusted copied — when a page is not the partition's RAM or the
   * span runs past the ranges.
   */
  readGuest(ranges: readonly PageRange[], offset: number, dest: Uint8Array): boolean;
  /** Copy `src` into guest memory named by `ranges` from `offset`; false as for readGuest (nothing written then). */
  writeGuest(ranges: readonly PageRange[], offset: number, src: Uint8Array): boolean;
  /** A GPADL the guest established (e.g. netvsc's receive buffer), or null if there is none with that id. */
  gpadl(id: number): Gpadl | null;
  /** Close the channel from the host side (the guest sees a rescind). */
  rescind(): void;
}

export interface Vsp {
  readonly offer: ChannelOffer;
  /**
   * The guest opened the channel (OPENCHANNEL with a valid ring GPADL). `userData` is the message's 120 bytes.
   * Return false to refuse: the guest then gets a non-zero OPENCHANNEL_RESULT.
   */
  open(channel: VspChannel, userData: Uint8Array): boolean;
  /** One packet the guest sent, in ring order. Must not throw for bad guest data: validate and answer or drop. */
  packet(channel: VspChannel, packet: IncomingPacket): void;
  /** The channel closed: CLOSECHANNEL, rescind, UNLOAD or VM reset. The channel object is dead afterwards. */
  close(channel: VspChannel): void;
  /** The host -> guest ring has room again after a send returned Full. */
  writable?(channel: VspChannel): void;
}
