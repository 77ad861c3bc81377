// Packet descriptors and the typed layouts that follow them (linux-hyperv-guest-contract.md §7.3): GPA-direct
// packets as storvsc (one range, many PFNs) and netvsc (one PFN per range) send them, transfer-page packets as the
// host sends netvsc receives, each through a ring and back; and the malformed variants a guest can produce.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  buildGpaDirect, buildXferPages, checkDescriptor, PacketError, PACKET_TYPE_DATA_USING_GPA_DIRECT,
  PACKET_TYPE_DATA_USING_XFER_PAGES, packetOffset8, packetType, parseGpaDirect, parseXferPages, RingStatus,
} from '../../src/vmbus/index.js';
import { makeChannel } from './helpers.js';

describe('vmbus packets', () => {
  it('GPA-direct, storvsc and netvsc style, through the guest -> host ring', () => {
    const ch = makeChannel(3, 2);
    const buf = new Uint8Array(4096), out = new Uint8Array(4096);
    const cases = [
      [{ byteCount: 65536, byteOffset: 512, pfns: Array.from({ length: 17 }, (_, i) => 0x123456789 + i) }],
      [{ byteCount: 1514, byteOffset: 100, pfns: [5] }, { byteCount: 60, byteOffset: 4090, pfns: [6, 7] }],
    ];
    const proto = new Uint8Array(64).fill(0x3c);
    for (const ranges of cases) {
      const len = buildGpaDirect(buf, ranges, proto, 1, 0xfffffffd, 0xffffffff);
      // Layout: descriptor, reserved, range_count, ranges, then the payload at offset8 * 8.
      assert.equal(packetOffset8(buf) * 8, 24 + ranges.reduce((a, r) => a + 8 + 8 * r.pfns.length, 0));
      assert.equal(len, packetOffset8(buf) * 8 + 64);
      const st = ch.guest.outgoing.writeRaw(buf, len);
      assert.ok(st === RingStatus.Ok || st === RingStatus.OkSignal);
      const n = ch.host.incoming.readPacket(out);
      assert.equal(n, len);
      assert.equal(packetType(out), PACKET_TYPE_DATA_USING_GPA_DIRECT);
      assert.deepEqual(parseGpaDirect(out, n), ranges);
      assert.deepEqual(out.subarray(packetOffset8(out) * 8, n), proto);
    }
  });

  it('transfer pages, host -> guest', () => {
    const ch = makeChannel(2, 2);
    const buf = new Uint8Array(4096), out = new Uint8Array(4096);
    const ranges = [{ byteCount: 1500, byteOffset: 0 }, { byteCount: 60, byteOffset: 6144 }];
    const nvsp = new Uint8Array(40).fill(9);
    const len = buildXferPages(buf, 0xcafe, ranges, nvsp, 1, 5, 0);
    assert.equal(packetOffset8(buf) * 8, 24 + 16);
    assert.equal(ch.host.outgoing.writeRaw(buf, len), RingStatus.OkSignal);
    const n = ch.guest.incoming.readPacket(out);
    assert.equal(packetType(out), PACKET_TYPE_DATA_USING_XFER_PAGES);
    assert.deepEqual(parseXferPages(out, n), { pagesetId: 0xcafe, senderOwnsSet: false, ranges });
  });

  it('refuses malformed descriptors and range lists', () => {
    const buf = new Uint8Array(256);
    const len = buildGpaDirect(buf, [{ byteCount: 100, byteOffset: 0, pfns: [1] }], new Uint8Array(8), 0, 0, 0); // 48
    assert.equal(checkDescriptor(buf, len), null);
    assert.equal(checkDescriptor(buf, 8), PacketError.TooShort);
    assert.equal(checkDescriptor(buf, len + 8), PacketError.BadLength, 'len8 must match the bytes held');
    const t = (mut: (d: DataView) => void, want: PacketError) => {
      const c = buf.slice();
      mut(new DataView(c.buffer));
      assert.equal(parseGpaDirect(c, len), want);
    };
    t((d) => d.setUint16(2, 7, true), PacketError.BadOffset); // offset8 past len8
    t((d) => d.setUint16(2, 1, true), PacketError.BadOffset);
    t((d) => d.setUint16(2, 2, true), PacketError.BadOffset); // payload before the range list
    t((d) => d.setUint32(20, 0, true), PacketError.BadRangeCount);
    t((d) => d.setUint32(20, 0xffffffff, true), PacketError.BadRangeCount);
    t((d) => d.setUint32(24, 0, true), PacketError.BadRange); // zero bytes
    t((d) => d.setUint32(28, 4096, true), PacketError.BadRange); // offset past a page
    t((d) => d.setUint32(24, 5000, true), PacketError.BadRange); // needs 2 PFNs, has 1
    const x = new Uint8Array(256);
    const xl = buildXferPages(x, 1, [{ byteCount: 1, byteOffset: 2 }], new Uint8Array(8), 0, 0, 0);
    new DataView(x.buffer).setUint32(20, 2, true);
    assert.equal(parseXferPages(x, xl), PacketError.BadRangeCount, 'offset8 does not cover 2 ranges');
    new DataView(x.buffer).setUint16(2, 2, true);
    assert.equal(parseXferPages(x, xl), PacketError.BadOffset);
  });

  it('fuzz: random packet bytes parse to values or typed errors', () => {
    let seed = 7;
    const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; };
    const seen = new Set<string>();
    for (let i = 0; i < 20000; i++) {
      const n = 16 + 8 * (rnd() % 40);
      const p = new Uint8Array(n);
      for (let k = 0; k < n; k++) p[k] = (rnd() & 1) ? 0 : rnd() & 0xff;
      p[4] = n >>> 3; p[5] = 0;
      if (rnd() & 1) { p[2] = 3 + (rnd() % (n / 8 - 2)); p[3] = 0; }
      for (const r of [parseGpaDirect(p, n), parseXferPages(p, n)]) seen.add(typeof r === 'string' ? r : 'ok');
    }
    assert.ok(seen.has('ok') && seen.has(PacketError.BadRange) && seen.has(PacketError.BadOffset), [...seen].join());
  });
});
