// The guest side of a channel's rings in TypeScript, for tests, fuzzing and benchmarks: it sets the rings up as
// Linux does before OPENCHANNEL (zeroed control pages, feature_bits = pending_send_sz) and drives the same
// producer/consumer rules from the other end: it writes the guest -> host ring and reads the host -> guest ring.
import { initRingHeader, RingReader, RingWriter } from './ring-buffer.js';
import type { ChannelRingMemory } from './channel-rings.js';

export class GuestRingClient {
  readonly outgoing: RingWriter;
  readonly incoming: RingReader;

  constructor(mem: ChannelRingMemory) {
    initRingHeader(mem.guestToHost);
    initRingHeader(mem.hostToGuest);
    this.outgoing = new RingWriter(mem.guestToHost);
    this.incoming = new RingReader(mem.hostToGuest);
  }
}
