// VMBus ring throughput and latency for small in-band packets between the TypeScript guest client and a loopback
// host reader, in one thread over one SharedArrayBuffer of "guest RAM" (the 6.1 hv_utils ring size, 16 KiB per
// direction): streaming packets per second one way, and the round trip of request + completion.
import {
  buildGpadlMessages, channelRingMemory, GpadlTable, GuestRingClient, openHostRings, PACKET_TYPE_COMP,
  PACKET_TYPE_DATA_INBAND, RamGuestPages, RingStatus, packetTransIdLo, type Gpadl, type HostChannelRings,
} from '../src/vmbus/index.js';

const PAYLOAD = 32;

function setup(): { guest: GuestRingClient; host: HostChannelRings } {
  const ram = new Uint8Array(new SharedArrayBuffer(16 * 4096));
  const pages = new RamGuestPages([{ firstPfn: 0x100, bytes: ram }]);
  const table = new GpadlTable(pages);
  let g: Gpadl | undefined;
  for (const m of buildGpadlMessages(1, 1, Array.from({ length: 8 }, (_, i) => 0x100 + i))) {
    const s = m[0] === 8 ? table.header(m) : table.body(m);
    if (s.kind === 'complete') g = s.gpadl;
  }
  const mem = channelRingMemory(g!, 4);
  if (typeof mem === 'string') throw new Error(mem);
  const guest = new GuestRingClient(mem);
  const host = openHostRings(mem);
  if (typeof host === 'string') throw new Error(host);
  return { guest, host };
}

function streaming(seconds: number): number {
  const { guest, host } = setup();
  const p = new Uint8Array(PAYLOAD), out = new Uint8Array(4096);
  let n = 0, id = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < 1000; k++) {
      for (;;) { // fill the ring
        const st = guest.outgoing.writePacket(PACKET_TYPE_DATA_INBAND, 0, id++, 0, p, 0, PAYLOAD);
        if (st !== RingStatus.Ok && st !== RingStatus.OkSignal) break;
      }
      while (host.incoming.readPacket(out) > 0) n++;
      host.incoming.commit();
    }
  }
  return n / seconds;
}

function roundTrip(iterations: number): number {
  const { guest, host } = setup();
  const p = new Uint8Array(PAYLOAD), out = new Uint8Array(4096), back = new Uint8Array(4096);
  const t = performance.now();
  for (let i = 0; i < iterations; i++) {
    guest.outgoing.writePacket(PACKET_TYPE_DATA_INBAND, 1, i, 0, p, 0, PAYLOAD);
    if (host.incoming.readPacket(out) <= 0) throw new Error('host read nothing');
    host.incoming.commit();
    host.outgoing.writePacket(PACKET_TYPE_COMP, 0, packetTransIdLo(out), 0, p, 0, 8);
    if (guest.incoming.readPacket(back) <= 0 || packetTransIdLo(back) !== i) throw new Error('bad completion');
    guest.incoming.commit();
  }
  return ((performance.now() - t) * 1000) / iterations;
}

export async function benchVmbusRing(): Promise<void> {
  streaming(0.3); roundTrip(100000); // warm up
  const pps = streaming(2);
  const rtt = roundTrip(1000000);
  console.log(`in-band ${PAYLOAD}-byte packets, one way   ${(pps / 1e6).toFixed(2).padStart(8)} M packets/s`);
  console.log(`request + completion round trip   ${rtt.toFixed(3).padStart(8)} µs`);
}
