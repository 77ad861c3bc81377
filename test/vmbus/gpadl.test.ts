// GPADL accumulation as Linux 6.1 sends it (channel.c create_gpadl_header; linux-hyperv-guest-contract.md §6.5):
// 26 PFNs in the header, 28 per body, range_buflen = 8 + 8 * PFNs; then every way a guest can get it wrong.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  buildGpadlMessages, channelRingMemory, ChannelRingError, GpadlError, GpadlTable, RamGuestPages, type Gpadl, type GpadlStep,
} from '../../src/vmbus/index.js';

const RAM_PFNS = 8192;
const ram = new Uint8Array(RAM_PFNS * 4096);
// RAM below a hole at 0x1000 pages and above it, like a partition with an MMIO gap.
const pages = new RamGuestPages([
  { firstPfn: 0, bytes: ram.subarray(0, 4096 * 4096) },
  { firstPfn: 0x100000, bytes: ram.subarray(4096 * 4096) },
]);

function feed(t: GpadlTable, msgs: Uint8Array[]): GpadlStep[] {
  return msgs.map((m) => (m[0] === 8 ? t.header(m) : t.body(m)));
}

function header(id: number, buflen: number, rangeCount: number, words: number[][]): Uint8Array {
  const m = new Uint8Array(20 + words.length * 8);
  const d = new DataView(m.buffer);
  d.setUint32(0, 8, true); d.setUint32(8, 3, true); d.setUint32(12, id, true);
  d.setUint16(16, buflen, true); d.setUint16(18, rangeCount, true);
  words.forEach(([lo, hi], i) => { d.setUint32(20 + i * 8, lo, true); d.setUint32(24 + i * 8, hi, true); });
  return m;
}

describe('vmbus GPADL', () => {
  it('assembles a 16 MiB buffer from 1 header and 146 bodies, pending until the last PFN', () => {
    const pfns = Array.from({ length: 4096 }, (_, i) => (i % 2 ? 0x100000 + i : i)); // alternate both RAM ranges
    const msgs = buildGpadlMessages(0xe1e10, 5, pfns);
    assert.equal(msgs.length, 147);
    assert.equal(msgs[0].length, 28 + 26 * 8);
    assert.equal(msgs[1].length, 16 + 28 * 8);
    assert.equal(new DataView(msgs[0].buffer).getUint16(16, true), 8 + 8 * 4096);
    const t = new GpadlTable(pages);
    const steps = feed(t, msgs);
    for (const s of steps.slice(0, -1)) assert.deepEqual(s, { kind: 'pending', id: 0xe1e10 });
    const last = steps[146];
    assert.equal(last.kind, 'complete');
    const g = (last as { gpadl: Gpadl }).gpadl;
    assert.equal(g.childRelid, 5);
    assert.equal(g.ranges.length, 1);
    assert.deepEqual(g.ranges[0].pfns, pfns);
    assert.equal(g.ranges[0].byteCount, 16 * 1024 * 1024);
    // The mapped pages are the guest's own memory.
    ram[0x100003 * 4096 - 0x100000 * 4096 + 4096 * 4096 + 5] = 0x77;
    assert.equal(g.ranges[0].pages[3][5], 0x77);
    assert.equal(t.get(0xe1e10), g);
    assert.equal(t.pendingCount, 0);
    assert.equal(t.teardown(0xe1e10), true);
    assert.equal(t.get(0xe1e10), undefined);
    assert.equal(t.teardown(0xe1e10), false);
  });

  it('decodes several ranges with byte offsets, and a single-message GPADL', () => {
    const t = new GpadlTable(pages);
    // range 1: 100 bytes at offset 4000 (spans 2 pages); range 2: 1 byte at offset 4095 (1 page).
    const s = t.header(header(7, 8 * 5, 2, [[100, 4000], [10, 0], [11, 0], [1, 4095], [12, 0]]));
    assert.equal(s.kind, 'complete');
    const g = (s as { gpadl: Gpadl }).gpadl;
    assert.deepEqual(g.ranges.map((r) => [r.byteCount, r.byteOffset, r.pfns]), [[100, 4000, [10, 11]], [1, 4095, [12]]]);
    assert.equal(t.header(header(8, 8 * 5, 2, [[100, 4000], [10, 0], [11, 0], [1, 4095]])).kind, 'pending', 'one PFN still due');
  });

  it('refuses PFNs outside the partition RAM, in the hole, or beyond 52 bits', () => {
    for (const bad of [RAM_PFNS * 2, 0x1000, 0x100000 + 4096, 2 ** 40, 2 ** 52 - 1]) {
      const t = new GpadlTable(pages);
      const steps = feed(t, buildGpadlMessages(1, 1, [1, 2, bad, 3]));
      assert.deepEqual(steps[0], { kind: 'error', id: 1, error: GpadlError.PfnOutsideRam });
      assert.equal(t.get(1), undefined);
    }
    const t = new GpadlTable(pages);
    const msgs = buildGpadlMessages(2, 1, [1, 2]);
    new DataView(msgs[0].buffer).setUint32(28 + 12, 0x80000000, true); // high half of the second PFN
    assert.deepEqual(t.header(msgs[0]), { kind: 'error', id: 2, error: GpadlError.PfnOutsideRam });
  });

  it('refuses malformed message sequences', () => {
    const t = new GpadlTable(pages, 2);
    const msgs = buildGpadlMessages(9, 1, Array.from({ length: 60 }, (_, i) => i));
    assert.deepEqual(t.body(msgs[1]), { kind: 'error', id: 9, error: GpadlError.UnknownId }, 'body before header');
    assert.equal(t.header(msgs[0]).kind, 'pending');
    assert.deepEqual(t.header(msgs[0]), { kind: 'error', id: 9, error: GpadlError.DuplicateId });
    assert.equal(t.header(buildGpadlMessages(10, 1, Array.from({ length: 30 }, (_, i) => i))[0]).kind, 'pending');
    assert.deepEqual(t.header(buildGpadlMessages(11, 1, [1])[0]), { kind: 'error', id: 11, error: GpadlError.TooManyPending });
    // 60 PFNs: 26 + 28 + 6. A full 28-PFN body where 6 are due overflows the list: the GPADL is dropped.
    assert.equal(t.body(msgs[1]).kind, 'pending');
    assert.deepEqual(t.body(msgs[1]), { kind: 'error', id: 9, error: GpadlError.TooManyPfns });
    assert.deepEqual(t.body(msgs[2]), { kind: 'error', id: 9, error: GpadlError.UnknownId });
    assert.equal(t.pendingCount, 1);
    t.removeChannel(1);
    assert.equal(t.pendingCount, 0);

    const u = new GpadlTable(pages);
    assert.equal((u.header(new Uint8Array(20)) as { error: GpadlError }).error, GpadlError.MessageTooShort);
    assert.equal((u.header(new Uint8Array(29)) as { error: GpadlError }).error, GpadlError.MisalignedMessage);
    assert.equal((u.header(new Uint8Array(244)) as { error: GpadlError }).error, GpadlError.MessageTooLong);
    assert.equal((u.body(new Uint8Array(28)) as { error: GpadlError }).error, GpadlError.MisalignedMessage);
    assert.equal((u.body(new Uint8Array(8)) as { error: GpadlError }).error, GpadlError.MessageTooShort);
    const hdr = (buflen: number, rc: number, words: number[][]) => (u.header(header(20, buflen, rc, words)) as { error?: GpadlError }).error;
    assert.equal(hdr(12, 1, [[4096, 0], [1, 0]]), GpadlError.BadRangeBuflen, 'not a multiple of 8');
    assert.equal(hdr(8, 1, [[4096, 0]]), GpadlError.BadRangeBuflen, 'no room for a PFN');
    assert.equal(hdr(16, 0, [[4096, 0], [1, 0]]), GpadlError.BadRangeCount);
    assert.equal(hdr(16, 2, [[4096, 0], [1, 0]]), GpadlError.BadRangeCount, 'two ranges cannot fit 16 bytes');
    assert.equal(hdr(16, 1, [[4096, 0], [1, 0], [2, 0]]), GpadlError.TooManyPfns, 'more words than range_buflen');
    assert.equal(hdr(16, 1, [[0, 0], [1, 0]]), GpadlError.BadRange, 'zero bytes');
    assert.equal(hdr(16, 1, [[1, 4096], [1, 0]]), GpadlError.BadRange, 'byte_offset past the first page');
    assert.equal(hdr(16, 1, [[4097, 0], [1, 0]]), GpadlError.BadRange, '2 pages of bytes, 1 PFN');
    assert.equal(hdr(24, 1, [[4096, 0], [1, 0], [2, 0]]), GpadlError.BadRangeBuflen, 'a PFN left over');
    assert.equal(u.size, 0);
  });

  it('fuzz: random GPADL messages give steps, never exceptions', () => {
    let seed = 99;
    const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; };
    const t = new GpadlTable(pages, 8);
    const kinds = new Set<string>();
    for (let i = 0; i < 20000; i++) {
      if (rnd() % 4 === 0) {
        // Sound messages, sometimes with one byte damaged.
        const n = 1 + (rnd() % 80);
        const msgs = buildGpadlMessages(rnd() % 16, 0, Array.from({ length: n }, () => (rnd() % 64 ? rnd() % RAM_PFNS : rnd())));
        if (rnd() & 1) { const m = msgs[rnd() % msgs.length]; m[rnd() % m.length] = rnd() & 0xff; }
        for (const s of feed(t, msgs)) { kinds.add(s.kind === 'error' ? s.error : s.kind); if (s.kind === 'complete' && (rnd() & 1)) t.teardown(s.gpadl.id); }
        continue;
      }
      const m = new Uint8Array(rnd() % 260);
      for (let k = 0; k < m.length; k++) m[k] = (rnd() & 3) ? 0 : rnd() & 0xff;
      const s = (rnd() & 1) ? t.header(m) : t.body(m);
      kinds.add(s.kind === 'error' ? s.error : s.kind);
      if (s.kind === 'complete') t.teardown(s.gpadl.id);
      if (rnd() % 50 === 0) t.removeChannel(0);
    }
    assert.ok(kinds.has('pending') && kinds.has('complete') && kinds.has(GpadlError.PfnOutsideRam), [...kinds].join());
  });

  it('splits a ring GPADL into the two rings of OPENCHANNEL, refusing impossible splits', () => {
    const t = new GpadlTable(pages);
    const s = feed(t, buildGpadlMessages(1, 1, [10, 11, 12, 13, 14, 15]))[0] as { gpadl: Gpadl };
    for (const bad of [0, 1, 5, 6, 2.5, -1]) assert.equal(channelRingMemory(s.gpadl, bad), ChannelRingError.BadPageOffset);
    const ok = channelRingMemory(s.gpadl, 4);
    assert.ok(typeof ok === 'object');
    assert.equal(ok.guestToHost.dataSize, 3 * 4096);
    assert.equal(ok.hostToGuest.dataSize, 4096);
    const partial = feed(t, buildGpadlMessages(2, 1, [10, 11, 12, 13], 4 * 4096 - 8))[0] as { gpadl: Gpadl };
    assert.equal(channelRingMemory(partial.gpadl, 2), ChannelRingError.NotOneRange);
  });
});
