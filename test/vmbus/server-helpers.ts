// VSPs for the server tests: an echo device (answers every in-band packet with the same bytes, completes GPA-direct
// packets after copying their guest memory back reversed), with a log of what the server called.
import {
  PACKET_FLAG_COMPLETION_REQUESTED, PACKET_TYPE_COMP, PACKET_TYPE_DATA_INBAND, PACKET_TYPE_DATA_USING_GPA_DIRECT,
  RingStatus, type ChannelOffer, type IncomingPacket, type Vsp, type VspChannel,
} from '../../src/vmbus/index.js';

export const HEARTBEAT_CLASS = '57164f39-9115-4e78-ab55-382f3bd5422d';
export const SHUTDOWN_CLASS = '0e0b6031-5213-4934-818b-38d90ced39db';

let instance = 1;
export function testOffer(name: string, classId = HEARTBEAT_CLASS): ChannelOffer {
  return { classId, instanceId: `00000000-0000-0000-0000-${(instance++).toString(16).padStart(12, '0')}`, name };
}

export class EchoVsp implements Vsp {
  readonly events: string[] = [];
  channel: VspChannel | null = null;
  packets = 0;
  userData: Uint8Array | null = null;
  acceptOpen = true;
  throwOnPacket = false;
  writables = 0;
  lastSend: RingStatus = RingStatus.Ok;

  constructor(readonly offer: ChannelOffer) {}

  open(channel: VspChannel, userData: Uint8Array): boolean {
    this.events.push(`open ${channel.relid}`);
    this.userData = userData;
    if (!this.acceptOpen) return false;
    this.channel = channel;
    return true;
  }

  packet(channel: VspChannel, p: IncomingPacket): void {
    this.packets++;
    if (this.throwOnPacket) throw new Error('echo VSP: told to throw');
    if (p.type === PACKET_TYPE_DATA_USING_GPA_DIRECT && p.ranges) {
      // Read the named guest bytes, write them back reversed, complete with the byte count.
      const n = p.payload[0] | (p.payload[1] << 8);
      const data = new Uint8Array(n);
      const okRead = channel.readGuest(p.ranges, 0, data);
      data.reverse();
      const okWrite = okRead && channel.writeGuest(p.ranges, 0, data);
      const reply = new Uint8Array([okRead ? 1 : 0, okWrite ? 1 : 0, n & 0xff, n >> 8]);
      this.lastSend = channel.send(PACKET_TYPE_COMP, 0, p.transIdLo, p.transIdHi, reply);
      return;
    }
    const type = (p.flags & PACKET_FLAG_COMPLETION_REQUESTED) !== 0 ? PACKET_TYPE_COMP : PACKET_TYPE_DATA_INBAND;
    this.lastSend = channel.send(type, 0, p.transIdLo, p.transIdHi, p.payload);
  }

  close(channel: VspChannel): void {
    this.events.push(`close ${channel.relid}`);
    if (this.channel === channel) this.channel = null;
  }

  writable(): void { this.writables++; }
}
