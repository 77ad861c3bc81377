// VspChannel.readGuest/writeGuest (copyGuest) and VspChannel.gpadl: copies over concatenated page ranges with
// offsets, and refusals that copy nothing — a span past the ranges, a page outside RAM in the middle of a write,
// malformed ranges — plus a channel seeing only its own GPADLs.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { copyGuest, createLoopbackBus, PAGE_SIZE, RamGuestPages, type PageRange } from '../../src/vmbus/index.js';
import { EchoVsp, testOffer } from './server-helpers.js';

const FIRST = 0x40;
function ram(pages: number): { bytes: Uint8Array; pages: RamGuestPages } {
  const bytes = new Uint8Array(pages * PAGE_SIZE);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
  return { bytes, pages: new RamGuestPages([{ firstPfn: FIRST, bytes }]) };
}
const at = (pfn: number, off: number): number => (pfn - FIRST) * PAGE_SIZE + off;

test('copies follow concatenated ranges: byte_offset into the first page, byte_count per range, an offset across them', () => {
  const m = ram(8);
  // Range A: 100 bytes from offset 4000 of page 0x45 (spills into 0x43); range B: 5000 bytes from page 0x41 offset 8.
  const ranges: PageRange[] = [
    { byteCount: 100, byteOffset: 4000, pfns: [0x45, 0x43] },
    { byteCount: 5000, byteOffset: 8, pfns: [0x41, 0x46] },
  ];
  const expect: number[] = [];
  for (let i = 0; i < 96; i++) expect.push(m.bytes[at(0x45, 4000 + i)]);
  for (let i = 0; i < 4; i++) expect.push(m.bytes[at(0x43, i)]);
  for (let i = 0; i < 4088; i++) expect.push(m.bytes[at(0x41, 8 + i)]);
  for (let i = 0; i < 912; i++) expect.push(m.bytes[at(0x46, i)]);
  const all = new Uint8Array(5100);
  assert.equal(copyGuest(m.pages, ranges, 0, all, false), true);
  assert.deepEqual([...all], expect);
  const part = new Uint8Array(300);
  assert.equal(copyGuest(m.pages, ranges, 90, part, false), true);
  assert.deepEqual([...part], expect.slice(90, 390));
  // Write back a pattern at offset 98 (crossing from range A into range B) and read it again.
  const pat = Uint8Array.from({ length: 20 }, (_, i) => 200 + i);
  assert.equal(copyGuest(m.pages, ranges, 98, pat, true), true);
  assert.equal(m.bytes[at(0x43, 2)], 200);
  assert.equal(m.bytes[at(0x43, 3)], 201);
  assert.equal(m.bytes[at(0x43, 4)], (at(0x43, 4) * 7 + 3) & 0xff, 'range A ends at its 100th byte');
  assert.equal(m.bytes[at(0x41, 8)], 202);
  assert.equal(m.bytes[at(0x41, 7)], (at(0x41, 7) * 7 + 3) & 0xff, 'the byte before range B is untouched');
  assert.equal(copyGuest(m.pages, ranges, 5100, new Uint8Array(0), false), true);
});

test('refusals copy nothing: past the ranges, a page outside RAM mid-copy, malformed ranges', () => {
  const m = ram(4);
  const before = m.bytes.slice();
  const ones = new Uint8Array(6000).fill(1);
  const cases: [PageRange[], number, number][] = [
    [[{ byteCount: 4096, byteOffset: 0, pfns: [0x40] }], 0, 4097], // one byte past
    [[{ byteCount: 4096, byteOffset: 0, pfns: [0x40] }], 4096, 1],
    [[{ byteCount: 8192, byteOffset: 0, pfns: [0x40, 0x99] }], 0, 6000], // second page not RAM
    [[{ byteCount: 100, byteOffset: 0, pfns: [0x41] }, { byteCount: 100, byteOffset: 0, pfns: [2 ** 40] }], 0, 200],
    [[{ byteCount: 100, byteOffset: 4096, pfns: [0x41, 0x42] }], 0, 10], // byte_offset past the page
    [[{ byteCount: 5000, byteOffset: 0, pfns: [0x41] }], 0, 10], // too few pfns for the count
    [[{ byteCount: 0, byteOffset: 0, pfns: [0x41] }], 0, 1],
    [[{ byteCount: 10, byteOffset: 0, pfns: [-1] }], 0, 1],
    [[{ byteCount: 10, byteOffset: 0, pfns: [0x41] }], -1, 1],
    [[{ byteCount: 10, byteOffset: 0, pfns: [0x41] }], 0.5, 1],
  ];
  for (const [ranges, offset, len] of cases) {
    assert.equal(copyGuest(m.pages, ranges, offset, ones.subarray(0, len), true), false, JSON.stringify(ranges));
    const out = new Uint8Array(len).fill(9);
    assert.equal(copyGuest(m.pages, ranges, offset, out, false), false);
  }
  assert.deepEqual(m.bytes, before, 'no refused write touched RAM');
});

test('a channel sees only its own GPADLs, and nothing once closed', () => {
  const a = new EchoVsp(testOffer('a')), b = new EchoVsp(testOffer('b'));
  const bus = createLoopbackBus();
  bus.server.addVsp(a);
  bus.server.addVsp(b);
  bus.client.connect();
  bus.client.requestOffers();
  const ca = bus.client.openChannel(1);
  bus.client.openChannel(2);
  const ga = bus.client.createGpadl(1, bus.ram.alloc(3)).id;
  const gb = bus.client.createGpadl(2, bus.ram.alloc(3)).id;
  const chA = a.channel!;
  assert.equal(chA.gpadl(ga)!.ranges[0].pfns.length, 3);
  assert.equal(chA.gpadl(gb), null);
  assert.equal(chA.gpadl(ca.ringGpadl)!.id, ca.ringGpadl);
  assert.equal(b.channel!.gpadl(ga), null);
  ca.close();
  assert.equal(chA.gpadl(ga), null);
  assert.equal(chA.readGuest([{ byteCount: 1, byteOffset: 0, pfns: [bus.ram.firstPfn] }], 0, new Uint8Array(1)), false);
});

test('a write into guest pages reports exactly the pages it changed (so processors drop code decoded from them); reads and refused writes report none', () => {
  const m = ram(8);
  const reports: number[][] = [];
  const pages = { page: (pfn: number) => m.pages.page(pfn), written: (pfns: ArrayLike<number>, n: number) => { reports.push(Array.from({ length: n }, (_, i) => pfns[i])); } };
  const ranges: PageRange[] = [
    { byteCount: 100, byteOffset: 4000, pfns: [0x45, 0x43] },
    { byteCount: 9000, byteOffset: 8, pfns: [0x41, 0x46, 0x47] },
  ];
  assert.equal(copyGuest(pages, ranges, 0, new Uint8Array(9100), false), true);
  assert.deepEqual(reports, [], 'a read changes nothing');
  assert.equal(copyGuest(pages, ranges, 98, new Uint8Array(20), true), true);
  assert.deepEqual(reports, [[0x43, 0x41]], 'bytes 98..99 of range A lie on 0x43 (byte_offset 4000 + 98 is past page 0x45), the rest at the start of range B on 0x41');
  reports.length = 0;
  assert.equal(copyGuest(pages, ranges, 0, new Uint8Array(9100), true), true);
  assert.deepEqual(reports, [[0x45, 0x43, 0x41, 0x46, 0x47]]);
  reports.length = 0;
  const outside: PageRange[] = [{ byteCount: 8192, byteOffset: 0, pfns: [0x41, 0x999] }];
  assert.equal(copyGuest(pages, outside, 0, new Uint8Array(8192), true), false);
  assert.deepEqual(reports, [], 'a refused write wrote nothing');
  // A long write (more pages than the reuse buffer first holds) reports every page once, in order.
  const big = ram(200);
  const seen: number[] = [];
  const bigPages = { page: (pfn: number) => big.pages.page(pfn), written: (pfns: ArrayLike<number>, n: number) => { for (let i = 0; i < n; i++) seen.push(pfns[i]); } };
  const pfns = Array.from({ length: 200 }, (_, i) => FIRST + 199 - i);
  assert.equal(copyGuest(bigPages, [{ byteCount: 200 * PAGE_SIZE, byteOffset: 0, pfns }], 0, new Uint8Array(200 * PAGE_SIZE), true), true);
  assert.deepEqual(seen, pfns);
});
