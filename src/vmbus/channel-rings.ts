// The two rings of an open channel, carved out of the ring GPADL named by OPENCHANNEL
// (linux-hyperv-guest-contract.md §6.6): pages [0, downstream_ringbuffer_pageoffset) are the guest -> host ring,
// the rest the host -> guest ring; each starts with its control page.
import type { Gpadl } from './gpadl.js';
import { PAGE_SIZE } from './guest-pages.js';
import { RingMemory, RingReader, RingStatus, RingWriter } from './ring-buffer.js';

export enum ChannelRingError {
  NotOneRange = 'not-one-range',
  BadPageOffset = 'bad-page-offset',
  BadPages = 'bad-pages',
  BadIndices = 'bad-indices',
}

export interface ChannelRingMemory { guestToHost: RingMemory; hostToGuest: RingMemory }

/** Splits a ring GPADL: it must be one page-aligned range with at least two pages on each side of the split. */
export function channelRingMemory(gpadl: Gpadl, downstreamPageOffset: number): ChannelRingMemory | ChannelRingError {
  if (gpadl.ranges.length !== 1) return ChannelRingError.NotOneRange;
  const r = gpadl.ranges[0];
  if (r.byteOffset !== 0 || r.byteCount !== r.pages.length * PAGE_SIZE) return ChannelRingError.NotOneRange;
  const n = r.pages.length;
  if (!Number.isInteger(downstreamPageOffset) || downstreamPageOffset < 2 || n - downstreamPageOffset < 2) return ChannelRingError.BadPageOffset;
  const g2h = RingMemory.fromPages(r.pages.slice(0, downstreamPageOffset));
  const h2g = RingMemory.fromPages(r.pages.slice(downstreamPageOffset));
  if (!g2h || !h2g) return ChannelRingError.BadPages;
  return { guestToHost: g2h, hostToGuest: h2g };
}

/** The host's ends: it reads the guest -> host ring and writes the host -> guest ring. */
export interface HostChannelRings { incoming: RingReader; outgoing: RingWriter }

export function openHostRings(mem: ChannelRingMemory): HostChannelRings | ChannelRingError {
  const incoming = new RingReader(mem.guestToHost);
  const outgoing = new RingWriter(mem.hostToGuest);
  if (incoming.status !== RingStatus.Ok || outgoing.status !== RingStatus.Ok) return ChannelRingError.BadIndices;
  return { incoming, outgoing };
}
