// VMBus rings between the TypeScript guest client and the host ends: the exact bytes Linux expects (descriptor,
// zero padding, the trailer with the previous write index, 8-byte indices; linux-hyperv-guest-contract.md §7),
// wrap-around at every offset, the never-completely-full rule, and the signalling decisions of
// drivers/hv/ring_buffer.c (hv_signal_on_write: signal only if interrupt_mask is clear and the ring was empty;
// hv_pkt_iter_close: signal a waiting writer only on the transition to more than pending_send_sz free).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  PACKET_FLAG_COMPLETION_REQUESTED, PACKET_TYPE_COMP, PACKET_TYPE_DATA_INBAND, RING_FEATURE_BITS, RING_INTERRUPT_MASK,
  RING_PENDING_SEND_SZ, RING_READ_INDEX, RING_WRITE_INDEX, RingReader, RingStatus, RingWriter, packetTransIdHi,
  packetTransIdLo, packetType, packetFlags, type RingMemory,
} from '../../src/vmbus/index.js';
import { makeChannel } from './helpers.js';

const dv = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset + at);

function payload(n: number, seed: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (seed + i * 7) & 0xff;
  return p;
}

/** Fresh ends of one ring with both indices at `at` (as if that many bytes had gone through already). */
function endsAt(mem: RingMemory, at: number): { w: RingWriter; r: RingReader } {
  mem.store(RING_WRITE_INDEX, at);
  mem.store(RING_READ_INDEX, at);
  return { w: new RingWriter(mem), r: new RingReader(mem) };
}

describe('vmbus ring buffer', () => {
  it('lays out packets exactly as Linux reads them: descriptor, payload, zero padding, trailer, indices', () => {
    const ch = makeChannel(2, 2);
    const ctl = ch.pageAt(0), data = ch.pageAt(1);
    // Linux's setup before OPENCHANNEL: zero indices, feature_bits = 1.
    assert.equal(dv(ch.ram, ctl).getUint32(RING_FEATURE_BITS, true), 1);
    const hello = new TextEncoder().encode('hello');
    const s1 = ch.guest.outgoing.writePacket(PACKET_TYPE_DATA_INBAND, PACKET_FLAG_COMPLETION_REQUESTED, 0x9abcdef0, 0x12345678, hello, 0, 5);
    assert.equal(s1, RingStatus.OkSignal, 'first packet into an empty ring signals');
    const d = dv(ch.ram, data);
    assert.equal(d.getUint16(0, true), 6); // type
    assert.equal(d.getUint16(2, true), 2); // offset8
    assert.equal(d.getUint16(4, true), 3); // len8: 16 + 5 padded to 24
    assert.equal(d.getUint16(6, true), 1); // flags
    assert.equal(d.getBigUint64(8, true), 0x123456789abcdef0n);
    assert.deepEqual([...ch.ram.subarray(data + 16, data + 24)], [...hello, 0, 0, 0]);
    assert.equal(d.getBigUint64(24, true), 0n, 'trailer: previous write index 0 << 32');
    assert.equal(dv(ch.ram, ctl).getUint32(RING_WRITE_INDEX, true), 32);
    const s2 = ch.guest.outgoing.writePacket(PACKET_TYPE_COMP, 0, 7, 0, hello, 0, 0);
    assert.equal(s2, RingStatus.Ok, 'the ring was not empty: no signal');
    assert.equal(d.getBigUint64(32 + 16, true), 32n << 32n, 'trailer carries the previous write index in its upper half');
    assert.equal(dv(ch.ram, ctl).getUint32(RING_WRITE_INDEX, true), 56);

    const out = new Uint8Array(4096);
    assert.equal(ch.host.incoming.readPacket(out), 24);
    assert.equal(packetType(out), 6);
    assert.equal(packetFlags(out), 1);
    assert.equal(packetTransIdLo(out), 0x9abcdef0);
    assert.equal(packetTransIdHi(out), 0x12345678);
    assert.equal(dv(ch.ram, ctl).getUint32(RING_READ_INDEX, true), 0, 'read index is published only by commit');
    assert.equal(ch.host.incoming.readPacket(out), 16);
    assert.equal(packetType(out), PACKET_TYPE_COMP);
    assert.equal(ch.host.incoming.readPacket(out), RingStatus.Empty);
    assert.equal(ch.host.incoming.commit(), false);
    assert.equal(dv(ch.ram, ctl).getUint32(RING_READ_INDEX, true), 56, 'read index advanced by len8*8 + 8 per packet');
    ch.checkGuards();
  });

  it('wraps at every 8-byte offset of the data area, in both directions, for packets of many sizes', () => {
    const ch = makeChannel(2, 3); // 4 KiB guest -> host data, 8 KiB host -> guest data (crosses a page inside)
    const out = new Uint8Array(8192);
    for (const [mem, size] of [[ch.mem.guestToHost, 4096], [ch.mem.hostToGuest, 8192]] as const) {
      for (let at = 0; at < size; at += 8) {
        const { w, r } = endsAt(mem, at);
        for (const n of [0, 1, 13, 64, 200]) {
          const p = payload(n, at + n);
          const st = w.writePacket(PACKET_TYPE_DATA_INBAND, 0, at, n, p, 0, n);
          assert.ok(st === RingStatus.Ok || st === RingStatus.OkSignal, `write at ${at} size ${n}: ${st}`);
          const len = r.readPacket(out);
          assert.equal(len, (16 + n + 7) & ~7, `read at ${at} size ${n}`);
          assert.equal(packetTransIdLo(out), at);
          assert.deepEqual(out.subarray(16, 16 + n), p);
          for (let i = 16 + n; i < len; i++) assert.equal(out[i], 0, 'padding is zero');
          r.commit();
        }
        assert.equal(r.readPacket(out), RingStatus.Empty);
      }
    }
    ch.checkGuards();
  });

  it('never fills the ring completely: a packet fits only if free space is strictly greater than packet + trailer', () => {
    const ch = makeChannel(2, 2);
    const out = new Uint8Array(4096);
    const big = payload(4096, 1);
    for (const at of [0, 8, 2048, 4088]) {
      const { w, r } = endsAt(ch.mem.guestToHost, at);
      assert.equal(w.maxPacket, 4096 - 16);
      assert.equal(w.writePacket(6, 0, 0, 0, big, 0, 4096 - 16 - 16 + 1), RingStatus.BadPacket, 'larger than the ring can ever take');
      assert.equal(w.writePacket(6, 0, 0, 0, big, 0, 4096 - 32), RingStatus.OkSignal, 'the largest packet: 8 bytes stay free');
      assert.equal(w.writePacket(6, 0, 0, 0, big, 0, 0), RingStatus.Full);
      assert.equal(r.readPacket(out), 4080);
      assert.deepEqual(out.subarray(16, 4080), big.subarray(0, 4064));
      r.commit();
      // Fill to exactly free == packet + trailer (Full), then free == packet + trailer + 8 (fits).
      const a = endsAt(ch.mem.guestToHost, at);
      assert.equal(a.w.writePacket(6, 0, 0, 0, big, 0, 4096 - 48 - 8 - 16), RingStatus.OkSignal); // packet 4040 + trailer: 48 free
      assert.equal(a.w.writePacket(6, 0, 0, 0, big, 0, 24), RingStatus.Full, 'free 48 == 40 + 8: refused');
      assert.equal(a.w.writePacket(6, 0, 0, 0, big, 0, 16), RingStatus.Ok, 'free 48 > 32 + 8');
      assert.equal(a.w.writePacket(6, 0, 0, 0, big, 0, 0), RingStatus.Full, 'free 8: nothing fits');
    }
    ch.checkGuards();
  });

  it('signals the reader only when its interrupt_mask is clear and the ring was empty; endDrain reports late arrivals', () => {
    const ch = makeChannel(2, 2);
    const out = new Uint8Array(4096);
    const w = ch.guest.outgoing, r = ch.host.incoming;
    const p = payload(8, 0);
    r.beginDrain();
    assert.equal(ch.mem.guestToHost.load(RING_INTERRUPT_MASK), 1);
    assert.equal(w.writePacket(6, 0, 1, 0, p, 0, 8), RingStatus.Ok, 'masked: no signal even into an empty ring');
    assert.equal(r.endDrain(), 32, 'the packet that came while masked must be drained without a signal');
    assert.equal(w.writePacket(6, 0, 2, 0, p, 0, 8), RingStatus.Ok, 'unmasked but not empty: no signal');
    assert.equal(r.readPacket(out), 24);
    assert.equal(w.writePacket(6, 0, 3, 0, p, 0, 8), RingStatus.Ok, 'reader has not published its index: still not empty');
    assert.equal(r.readPacket(out), 24);
    assert.equal(r.readPacket(out), 24);
    r.commit();
    assert.equal(r.endDrain(), 0);
    assert.equal(w.writePacket(6, 0, 4, 0, p, 0, 8), RingStatus.OkSignal, 'empty again and unmasked: signal');
  });

  it('pending_send_sz: the reader signals a waiting writer once, on the transition to enough free space', () => {
    for (const featureOn of [true, false]) {
      const ch = makeChannel(2, 2);
      const mem = ch.mem.hostToGuest;
      if (!featureOn) mem.store(RING_FEATURE_BITS, 0);
      const w = ch.host.outgoing, r = ch.guest.incoming;
      const out = new Uint8Array(4096);
      const p = payload(1000, 3);
      let n = 0;
      while (w.writePacket(6, 0, n, 0, p, 0, 1000) !== RingStatus.Full) n++;
      assert.equal(n, 3, '3 packets of 1016 + 8 bytes fit in 4096: a fourth would leave no free byte');
      // Want room for a 3000-byte packet (+ 8 trailer); 1024 bytes are free.
      assert.equal(w.waitForSpace(3000), false);
      assert.equal(mem.load(RING_PENDING_SEND_SZ), 3008);
      const signals: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        assert.equal(r.readPacket(out), 1016);
        signals.push(r.commit());
      }
      // Free after each commit: 2048 (not enough), 3072 (enough: signal), 4096 (was enough already: no signal).
      assert.deepEqual(signals, featureOn ? [false, true, false] : [false, false, false]);
      assert.equal(w.writePacket(6, 0, 9, 0, payload(2984, 5), 0, 2984), RingStatus.OkSignal);
      assert.equal(mem.load(RING_PENDING_SEND_SZ), 0, 'a successful write clears pending_send_sz');
    }
  });

  it('waitForSpace reports space that appeared before pending_send_sz was set', () => {
    const ch = makeChannel(2, 2);
    const w = ch.host.outgoing;
    const p = payload(4000, 0);
    assert.equal(w.writePacket(6, 0, 0, 0, p, 0, 4000), RingStatus.OkSignal);
    assert.equal(w.writePacket(6, 0, 0, 0, p, 0, 100), RingStatus.Full);
    const out = new Uint8Array(4096);
    assert.equal(ch.guest.incoming.readPacket(out), 4016);
    ch.guest.incoming.commit();
    assert.equal(w.waitForSpace(116), true);
  });
});
