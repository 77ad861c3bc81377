// The VMBus channel server's packet path end to end in one thread: the TypeScript guest bus client writes a packet
// and signals (HvSignalEvent through a LoopbackSynic), the server drains the guest -> host ring, checks the
// descriptor and hands it to an echo VSP, which sends it back and signals the guest; the guest reads it. Also the
// cost of a whole connection (INITIATE_CONTACT .. ALLOFFERS_DELIVERED, GPADL, OPENCHANNEL, close, teardown).
import {
  createLoopbackBus, PACKET_TYPE_COMP, PACKET_TYPE_DATA_USING_GPA_DIRECT, type ChannelOffer, type IncomingPacket,
  type Vsp, type VspChannel,
} from '../src/vmbus/index.js';

class Echo implements Vsp {
  readonly offer: ChannelOffer = { classId: '57164f39-9115-4e78-ab55-382f3bd5422d', instanceId: '00000000-0000-0000-0000-0000000000e0', name: 'echo' };
  private readonly reply = new Uint8Array(16);
  open(): boolean { return true; }
  packet(ch: VspChannel, p: IncomingPacket): void {
    if (p.type === PACKET_TYPE_DATA_USING_GPA_DIRECT) ch.send(PACKET_TYPE_COMP, 0, p.transIdLo, p.transIdHi, this.reply);
    else ch.send(PACKET_TYPE_COMP, 0, p.transIdLo, p.transIdHi, p.payload);
  }
  close(): void {}
}

function roundTrips(n: number, gpaDirect: boolean): number {
  const bus = createLoopbackBus({ ramPages: 256 });
  bus.server.addVsp(new Echo());
  bus.client.connect();
  bus.client.requestOffers();
  const ch = bus.client.openChannel(1, { sendPages: 32, recvPages: 32 });
  const payload = new Uint8Array(32);
  const ranges = [{ byteCount: 64 * 1024, byteOffset: 0, pfns: bus.ram.alloc(16) }];
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    if (gpaDirect) ch.sendGpaDirect(ranges, payload, { flags: 1, transIdLo: i });
    else ch.send(payload, { flags: 1, transIdLo: i });
    const r = ch.receive();
    if (!r || r.transIdLo !== i) throw new Error('bench: no echo');
    ch.takeSignal();
  }
  return ((performance.now() - t) * 1000) / n;
}

function connections(n: number): number {
  const bus = createLoopbackBus({ ramPages: 64 });
  bus.server.addVsp(new Echo());
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    bus.client.connect();
    bus.client.requestOffers();
    bus.client.openChannel(1).close();
    bus.client.unload();
  }
  return ((performance.now() - t) * 1000) / n;
}

export async function benchVmbusServer(): Promise<void> {
  roundTrips(20000, false); roundTrips(20000, true); connections(500); // warm up
  const inband = roundTrips(200000, false);
  const gpa = roundTrips(100000, true);
  const conn = connections(5000);
  console.log(`32-byte in-band request + completion through the server   ${inband.toFixed(2).padStart(8)} µs`);
  console.log(`GPA-direct (16 PFNs) request + completion                  ${gpa.toFixed(2).padStart(8)} µs`);
  console.log(`connect, offers, GPADL, open, close, teardown, unload      ${conn.toFixed(1).padStart(8)} µs`);
}
