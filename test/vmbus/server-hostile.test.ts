// Hostile guest input to the VMBus server: truncated and unknown messages, bad relids, GPADLs outside the
// partition, bad ring GPADLs and indices, oversized and malformed packets, messages in the wrong state. Each is
// refused — logged, counted, answered with the protocol's error status where there is one — and the server goes
// on serving a well-behaved client on the same connection.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  buildGpadlMessages, CHANNELMSG_GPADL_CREATED, CHANNELMSG_GPADL_TORNDOWN, CHANNELMSG_OPENCHANNEL_RESULT,
  CHANNELMSG_VERSION_RESPONSE, createLoopbackBus, decodeGpadlCreated, decodeOpenResult, encodeGpadlTeardown,
  encodeHeaderOnly, encodeInitiateContact, encodeModifyChannel, encodeOpenChannel, encodeRelidMessage,
  GPADL_HEADER_RANGES, MAX_GPADL_PAGES, MAX_GPADLS, MESSAGE_SIZE, PACKET_TYPE_DATA_INBAND, PAGE_SIZE, RING_READ_INDEX,
  RING_WRITE_INDEX, readU32, RingStatus, writeDescriptor, writeU32, type LoopbackBus,
} from '../../src/vmbus/index.js';
import { EchoVsp, testOffer } from './server-helpers.js';

interface Bed { bus: LoopbackBus; echo: EchoVsp; other: EchoVsp; ch: ReturnType<LoopbackBus['client']['openChannel']> }

/** A connected bus: relid 1 (echo) open, relid 2 (other) offered. */
function bed(vpCount = 2): Bed {
  const bus = createLoopbackBus({ vpCount, ramPages: 4096 });
  const echo = new EchoVsp(testOffer('echo')), other = new EchoVsp(testOffer('other'));
  bus.server.addVsp(echo);
  bus.server.addVsp(other);
  bus.client.connect();
  bus.client.requestOffers();
  return { bus, echo, other, ch: bus.client.openChannel(1) };
}

function refused(bus: LoopbackBus): number { return (bus.server.inspect() as { counters: { refused: number } }).counters.refused; }
function counters(bus: LoopbackBus): Record<string, number> { return (bus.server.inspect() as { counters: Record<string, number> }).counters; }

/** The open echo channel still answers, and relid 2 can still be opened, used and closed. */
let tagCounter = 0;
function stillServes(b: Bed): void {
  const tag = (++tagCounter * 37) & 0xff;
  assert.ok(b.ch.send(new Uint8Array([tag, 1, 2])) > 0);
  const p = b.ch.receive();
  assert.ok(p, 'the echo channel answers');
  assert.equal(p.payload[0], tag);
  const c2 = b.bus.client.openChannel(2);
  c2.send(new Uint8Array([tag]));
  assert.equal(c2.receive()!.payload[0], tag);
  c2.close();
  assert.equal(b.bus.synic.messages.length, 0);
  assert.equal(b.bus.client.inbox.length, 0, 'no stray host messages');
}

/** Posts `m` and expects exactly one more refusal with a log line containing `logPart`. */
function expectRefused(b: Bed, m: Uint8Array, logPart: string, type = 1, conn = 1): void {
  const before = refused(b.bus), lines = b.bus.log.length, problems = b.bus.problems.length;
  assert.equal(b.bus.synic.guestPostMessage(conn, type, m), 0);
  assert.equal(refused(b.bus), before + 1, `refused: ${logPart}`);
  const added = b.bus.log.slice(lines).join('\n');
  assert.ok(added.includes(logPart), `log has '${logPart}': ${added}`);
  // The worker shows problem lines without --trace-vmbus: every refusal must be flagged as one.
  assert.ok(b.bus.problems.slice(problems).some((l) => l.includes(logPart)), `'${logPart}' flagged as a problem`);
}

test('truncated messages of every guest -> host type are refused without an answer', () => {
  const b = bed();
  for (const t of [3, 5, 7, 8, 9, 11, 13, 14, 16, 21, 22]) {
    const min = MESSAGE_SIZE[t];
    for (let len = 8; len < min; len += (min - 8 > 40 ? 7 : 1)) {
      const m = new Uint8Array(len);
      writeU32(m, 0, t);
      if (len >= 12) writeU32(m, 8, 1); // relid 1: a real channel, so only the length is wrong
      expectRefused(b, m, 'truncated');
    }
  }
  for (let len = 0; len < 8; len++) expectRefused(b, new Uint8Array(len), `truncated message (${len} bytes)`);
  b.bus.client.collect();
  assert.equal(b.bus.client.inbox.length, 0);
  stillServes(b);
});

test('unknown message types, host -> guest types and other SynIC message types are refused', () => {
  const b = bed();
  for (const t of [0, 18, 19, 20, 25, 26, 0x7fffffff, 0xffffffff]) {
    const m = new Uint8Array(64);
    writeU32(m, 0, t);
    expectRefused(b, m, `unknown message type ${t}`);
  }
  for (const t of [1, 2, 4, 6, 10, 12, 15, 17, 23, 24]) {
    const m = new Uint8Array(200);
    writeU32(m, 0, t);
    expectRefused(b, m, 'a host -> guest message');
  }
  expectRefused(b, encodeHeaderOnly(3), 'SynIC message type 2', 2);
  expectRefused(b, encodeHeaderOnly(3), 'SynIC message type 2', 2, 4);
  // The SynIC refuses what no handler could be asked about.
  assert.equal(b.bus.synic.guestPostMessage(1, 1, new Uint8Array(241)), 5);
  assert.equal(b.bus.synic.guestPostMessage(2, 1, encodeHeaderOnly(3)), 0x12);
  stillServes(b);
});

test('bad relids: OPENCHANNEL, CLOSECHANNEL, GPADL, RELID_RELEASED, MODIFYCHANNEL for channels that do not exist', () => {
  const b = bed();
  const open9 = encodeOpenChannel({ childRelid: 9, openId: 9, ringGpadl: 0xe1e10, targetVp: 0, downstreamPageOffset: 4 });
  expectRefused(b, open9, 'vmbus: refused OPENCHANNEL relid 9: unknown channel');
  const r = decodeOpenResult(b.bus.client.expect(CHANNELMSG_OPENCHANNEL_RESULT))!;
  assert.deepEqual([r.childRelid, r.openId], [9, 9]);
  assert.notEqual(r.status, 0);
  for (const relid of [0, 9, 2047, 2048, 0xffffffff]) {
    expectRefused(b, encodeRelidMessage(7, relid), `CLOSECHANNEL relid ${relid}: unknown channel`);
    expectRefused(b, encodeRelidMessage(13, relid), `RELID_RELEASED relid ${relid}: unknown channel`);
    expectRefused(b, encodeModifyChannel(relid, 0), `MODIFYCHANNEL relid ${relid}: unknown channel`);
    assert.notEqual(readU32(b.bus.client.expect(24), 12), 0);
    const [h] = buildGpadlMessages(0x5000 + (relid & 0xff), relid, [0x200]);
    expectRefused(b, h, `relid ${relid}: unknown channel`);
    const created = decodeGpadlCreated(b.bus.client.expect(CHANNELMSG_GPADL_CREATED))!;
    assert.equal(created.childRelid, relid >>> 0);
    assert.notEqual(created.status, 0);
  }
  stillServes(b);
});

test('GPADLs naming pages outside the partition are refused with a failed GPADL_CREATED and cannot be opened', () => {
  const b = bed();
  const ram = b.bus.client.ram;
  const last = ram.firstPfn + ram.bytes.length / PAGE_SIZE; // first pfn past RAM
  const cases: number[][] = [
    [last], [ram.firstPfn - 1], [0], [2 ** 40], [2 ** 52 - 1],
    [...ram.alloc(40).slice(0, 39), last + 5], // the bad page in a GPADL_BODY
  ];
  let id = 0x9000;
  for (const pfns of cases) {
    const msgs = buildGpadlMessages(id, 2, pfns);
    for (const m of msgs.slice(0, -1)) assert.equal(b.bus.client.post(m), 0);
    expectRefused(b, msgs[msgs.length - 1], `gpadl 0x${id.toString(16)} relid 2: pfn-outside-ram`);
    const c = decodeGpadlCreated(b.bus.client.expect(CHANNELMSG_GPADL_CREATED))!;
    assert.equal(c.gpadl, id);
    assert.notEqual(c.status, 0);
    expectRefused(b, encodeOpenChannel({ childRelid: 2, openId: 2, ringGpadl: id, targetVp: 0, downstreamPageOffset: 1 }), `ring gpadl 0x${id.toString(16)}: unknown GPADL`);
    assert.notEqual(decodeOpenResult(b.bus.client.expect(CHANNELMSG_OPENCHANNEL_RESULT))!.status, 0);
    id++;
  }
  assert.equal((b.bus.server.inspect() as { gpadls: { established: number } }).gpadls.established, 1, 'only the echo ring');
  stillServes(b);
});

test('GPADL sequences: duplicate ids, bodies without a header, overflowing bodies, malformed headers', () => {
  const b = bed();
  const pfns = b.bus.client.ram.alloc(4);
  const good = b.bus.client.createGpadl(2, pfns);
  assert.equal(good.status, 0);
  // The same id again: refused, and the first one is untouched.
  const [dup] = buildGpadlMessages(good.id, 2, pfns);
  expectRefused(b, dup, 'duplicate-id');
  assert.notEqual(decodeGpadlCreated(b.bus.client.expect(CHANNELMSG_GPADL_CREATED))!.status, 0);
  // A body with no header before it.
  const body = new Uint8Array(24);
  writeU32(body, 0, 9); writeU32(body, 12, 0x7777);
  expectRefused(b, body, 'GPADL_BODY gpadl 0x7777: unknown-id');
  // A header promising 30 PFNs, then bodies delivering 60: refused at the overflowing body.
  const msgs = buildGpadlMessages(0x8888, 2, b.bus.client.ram.alloc(60));
  const h = msgs[0];
  h[16] = (8 + 8 * 30) & 0xff; h[17] = (8 + 8 * 30) >> 8; // range_buflen for 30 PFNs
  writeU32(h, GPADL_HEADER_RANGES, 30 * PAGE_SIZE);
  assert.equal(b.bus.client.post(h), 0);
  expectRefused(b, msgs[1], 'too-many-pfns');
  assert.notEqual(decodeGpadlCreated(b.bus.client.expect(CHANNELMSG_GPADL_CREATED))!.status, 0);
  // Malformed headers: zero ranges, range_buflen not a multiple of 8, byte_offset past the page.
  const bad = (mut: (m: Uint8Array) => void, why: string, gid: number): void => {
    const [m] = buildGpadlMessages(gid, 2, [pfns[0]]);
    mut(m);
    expectRefused(b, m, why);
    assert.notEqual(decodeGpadlCreated(b.bus.client.expect(CHANNELMSG_GPADL_CREATED))!.status, 0);
  };
  bad((m) => { m[18] = 0; }, 'bad-range-count', 0xa001);
  bad((m) => { m[16] = 13; }, 'bad-range-buflen', 0xa002);
  bad((m) => { writeU32(m, GPADL_HEADER_RANGES + 4, 4096); }, 'bad-range', 0xa003);
  bad((m) => { writeU32(m, GPADL_HEADER_RANGES, 0); }, 'bad-range', 0xa004);
  // Teardowns of unknown GPADLs or through the wrong relid; of the open ring.
  expectRefused(b, encodeGpadlTeardown(2, 0x123456), 'GPADL_TEARDOWN gpadl 0x123456: unknown GPADL');
  expectRefused(b, encodeGpadlTeardown(1, good.id), `belongs to relid 2, not 1`);
  expectRefused(b, encodeGpadlTeardown(1, b.ch.ringGpadl), 'it is the ring of open channel relid 1');
  assert.equal(b.bus.client.take(CHANNELMSG_GPADL_TORNDOWN), null);
  b.bus.client.teardownGpadl(2, good.id);
  stillServes(b);
});

test('GPADL limits: pending assemblies and established GPADLs are bounded', () => {
  const b = bed();
  const pfn = b.bus.client.ram.alloc(30);
  // 64 unfinished GPADLs, then the next header is refused.
  for (let i = 0; i < 64; i++) assert.equal(b.bus.client.post(buildGpadlMessages(0x10000 + i, 2, pfn)[0]), 0);
  expectRefused(b, buildGpadlMessages(0x20000, 2, pfn)[0], 'too-many-pending');
  assert.notEqual(decodeGpadlCreated(b.bus.client.expect(CHANNELMSG_GPADL_CREATED))!.status, 0);
  for (let i = 0; i < 64; i++) {
    b.bus.client.post(encodeGpadlTeardown(2, 0x10000 + i));
    b.bus.client.expect(CHANNELMSG_GPADL_TORNDOWN);
  }
  // Established GPADLs up to MAX_GPADLS (one exists: the echo ring).
  for (let i = 1; i < MAX_GPADLS; i++) assert.equal(b.bus.client.createGpadl(2, [pfn[0]]).status, 0);
  expectRefused(b, buildGpadlMessages(0x30000, 2, [pfn[0]])[0], `${MAX_GPADLS} GPADLs exist already`);
  assert.notEqual(decodeGpadlCreated(b.bus.client.expect(CHANNELMSG_GPADL_CREATED))!.status, 0);
  b.bus.client.releaseRelid(2); // the guest gives relid 2 up: its GPADLs go
  assert.equal((b.bus.server.inspect() as { gpadls: { established: number } }).gpadls.established, 1);
  assert.ok(b.ch.send(new Uint8Array([1])) > 0);
  assert.equal(b.ch.receive()!.payload[0], 1);
});

test('bad ring GPADLs and OPENCHANNEL fields: too small, odd splits, several ranges, other channel\'s GPADL, VP out of range', () => {
  const b = bed(2);
  const client = b.bus.client;
  const open = (ringGpadl: number, downstream: number, targetVp = 0, relid = 2): Uint8Array =>
    encodeOpenChannel({ childRelid: relid, openId: relid, ringGpadl, targetVp, downstreamPageOffset: downstream });
  const g3 = client.createGpadl(2, client.ram.alloc(3)).id;
  expectRefused(b, open(g3, 1), 'bad-page-offset');
  expectRefused(b, open(g3, 2), 'bad-page-offset');
  const g8 = client.createGpadl(2, client.ram.alloc(8)).id;
  for (const d of [0, 1, 7, 8, 9, 0xffffffff]) expectRefused(b, open(g8, d), `downstream page offset ${d}: bad-page-offset`);
  expectRefused(b, open(g8, 4, 2), 'target_vp 2 out of range (2 VPs)');
  expectRefused(b, open(g8, 4, 0xffffffff), 'target_vp 4294967295 out of range');
  expectRefused(b, open(b.ch.ringGpadl, 4), 'belongs to relid 1');
  // A two-range GPADL (header built by hand), and one range not starting at byte 0.
  const pf = client.ram.alloc(8);
  const two = new Uint8Array(GPADL_HEADER_RANGES + 2 * 8 + 8 * 8);
  writeU32(two, 0, 8); writeU32(two, 8, 2); writeU32(two, 12, 0xb001);
  two[16] = 80; two[18] = 2;
  let at = GPADL_HEADER_RANGES;
  for (let r = 0; r < 2; r++) {
    writeU32(two, at, 4 * PAGE_SIZE); at += 8;
    for (let k = 0; k < 4; k++) { writeU32(two, at, pf[r * 4 + k]); at += 8; }
  }
  client.post(two);
  assert.equal(decodeGpadlCreated(client.expect(CHANNELMSG_GPADL_CREATED))!.status, 0, 'a two-range GPADL is valid as a GPADL');
  expectRefused(b, open(0xb001, 4), 'not-one-range');
  for (const m of buildGpadlMessages(0xb002, 2, client.ram.alloc(8), 8 * PAGE_SIZE - 100, 100)) client.post(m);
  assert.equal(decodeGpadlCreated(client.expect(CHANNELMSG_GPADL_CREATED))!.status, 0);
  expectRefused(b, open(0xb002, 4), 'not-one-range');
  // Ring headers the guest left with bad indices.
  const pfns = client.ram.alloc(8);
  const gbad = client.createGpadl(2, pfns).id;
  const hdr = client.ram.page(pfns[4]); // the host -> guest control page
  writeU32(hdr, RING_WRITE_INDEX, 5);
  expectRefused(b, open(gbad, 4), 'bad-indices');
  writeU32(hdr, RING_WRITE_INDEX, 0);
  writeU32(client.ram.page(pfns[0]), RING_READ_INDEX, 3 * PAGE_SIZE); // = data size: out of range
  expectRefused(b, open(gbad, 4), 'bad-indices');
  writeU32(client.ram.page(pfns[0]), RING_READ_INDEX, 0);
  // Already open.
  expectRefused(b, open(client.createGpadl(1, client.ram.alloc(8)).id, 4, 0, 1), 'OPENCHANNEL relid 1: already open');
  let results = 0;
  for (let m = client.take(CHANNELMSG_OPENCHANNEL_RESULT); m; m = client.take(CHANNELMSG_OPENCHANNEL_RESULT)) {
    results++;
    assert.notEqual(decodeOpenResult(m)!.status, 0);
  }
  assert.equal(results, 16);
  assert.deepEqual(b.other.events, [], 'the VSP never saw a bad open');
  // The good ring GPADL gbad (indices repaired) opens fine now.
  client.post(open(gbad, 4));
  assert.equal(decodeOpenResult(client.expect(CHANNELMSG_OPENCHANNEL_RESULT))!.status, 0);
  assert.deepEqual(b.other.events, ['open 2']);
  client.post(encodeRelidMessage(7, 2));
  stillServes(b);
});

test('messages in the wrong state are refused', () => {
  const bus = createLoopbackBus({ vpCount: 1 });
  const echo = new EchoVsp(testOffer('echo'));
  bus.server.addVsp(echo);
  const b: Bed = { bus, echo, other: echo, ch: null as never };
  for (const m of [encodeHeaderOnly(3), encodeRelidMessage(7, 1), encodeHeaderOnly(16), encodeModifyChannel(1, 0), encodeRelidMessage(13, 1), buildGpadlMessages(1, 1, [0x200])[0]]) {
    expectRefused(b, m, 'before INITIATE_CONTACT');
  }
  assert.equal(bus.synic.messages.length, 0);
  expectRefused(b, encodeInitiateContact({ version: 0x50003, targetVcpu: 1 }), 'INITIATE_CONTACT: target_vcpu 1 out of range (1 VPs)', 1, 4);
  assert.equal(bus.synic.messages.length, 0);
  const ic = encodeInitiateContact({ version: 0x50003, targetVcpu: 0 });
  ic[16] = 3; // msg_sint 3
  bus.synic.guestPostMessage(4, 1, ic);
  assert.equal(bus.client.expect(CHANNELMSG_VERSION_RESPONSE)[8], 0, 'a SINT other than 2 is refused as a version');
  assert.ok(bus.log.some((l) => l.includes('refused version 5.3: msg_sint 3')));
  bus.client.connect([0x00040000]); // 4.0: no MODIFYCHANNEL
  // Offers not yet requested: the channel is not offered.
  const g = bus.client.createGpadl.bind(bus.client);
  assert.notEqual(g(1, bus.client.ram.alloc(8)).status, 0);
  expectRefused(b, encodeOpenChannel({ childRelid: 1, openId: 1, ringGpadl: 0xe1e10, targetVp: 0, downstreamPageOffset: 4 }), 'OPENCHANNEL relid 1: channel is idle');
  assert.notEqual(decodeOpenResult(bus.client.expect(CHANNELMSG_OPENCHANNEL_RESULT))!.status, 0);
  bus.client.requestOffers();
  expectRefused(b, encodeHeaderOnly(3), 'REQUESTOFFERS: offers were already sent');
  expectRefused(b, encodeRelidMessage(7, 1), 'CLOSECHANNEL relid 1: not open (offered)');
  expectRefused(b, encodeModifyChannel(1, 0), 'MODIFYCHANNEL relid 1: not in version 4.0');
  const tl = new Uint8Array(40); writeU32(tl, 0, 21);
  expectRefused(b, tl, 'TL_CONNECT_REQUEST: hv_sock is not offered');
  const ch = bus.client.openChannel(1);
  ch.send(new Uint8Array([77]));
  assert.equal(ch.receive()!.payload[0], 77);
  // RELID_RELEASED for a channel never rescinded: the guest gave it up; it cannot be opened again this connection.
  bus.client.releaseRelid(1);
  assert.deepEqual(echo.events, ['open 1', 'close 1']);
  expectRefused(b, encodeRelidMessage(13, 1), 'RELID_RELEASED relid 1: not offered (released)');
  // A fresh connection offers it again.
  bus.client.connect();
  bus.client.offers.clear();
  assert.equal(bus.client.requestOffers().length, 1);
  bus.client.openChannel(1).send(new Uint8Array([78]));
  assert.equal(echo.packets, 2);
});

function rawPacket(type: number, offset8: number, len8: number, body = 0): Uint8Array {
  const p = new Uint8Array(Math.max(len8 * 8, 16) + body);
  writeDescriptor(p, type, offset8 * 8, len8 * 8, 0, 0x1234, 0);
  return p;
}

test('malformed packets are dropped one by one and the packets after them still arrive', () => {
  const b = bed();
  const ram = b.bus.client.ram;
  const past = ram.firstPfn + ram.bytes.length / PAGE_SIZE;
  const bad: Uint8Array[] = [];
  for (const t of [0, 1, 5, 7, 8, 10, 12, 0xffff]) bad.push(rawPacket(t, 2, 4));
  // GPA-direct: zero ranges, a range count past the payload, a page outside RAM, a byte_offset past the page.
  const gpa = (count: number, byteCount: number, byteOffset: number, pfn: number, offset8 = 5): Uint8Array => {
    const p = rawPacket(9, offset8, 6);
    writeU32(p, 20, count); writeU32(p, 24, byteCount); writeU32(p, 28, byteOffset); writeU32(p, 32, pfn % 2 ** 32); writeU32(p, 36, Math.floor(pfn / 2 ** 32));
    return p;
  };
  bad.push(gpa(0, 100, 0, ram.firstPfn), gpa(5, 100, 0, ram.firstPfn), gpa(1, 100, 0, past), gpa(1, 100, 0, 2 ** 40), gpa(1, 100, 4096, ram.firstPfn), gpa(1, 0, 0, ram.firstPfn), gpa(1, 5000, 0, ram.firstPfn), gpa(1, 100, 0, ram.firstPfn, 2));
  for (const p of bad) {
    const before = counters(b.bus).refusedPackets;
    assert.ok(b.ch.sendRaw(p, p.length) > 0);
    assert.equal(counters(b.bus).refusedPackets, before + 1, `dropped type ${p[0] | (p[1] << 8)}`);
    // The next good packet still arrives (the ring stays in step).
    b.ch.send(new Uint8Array([9]));
    assert.equal(b.ch.receive()!.payload[0], 9);
  }
  assert.ok(b.bus.log.some((l) => l === 'vmbus: relid 1 (echo): dropped a guest packet: packet type 7'));
  assert.ok(b.bus.log.some((l) => l === 'vmbus: relid 1 (echo): dropped a guest packet: GPA-direct packet names a page outside RAM'));
  assert.equal(b.echo.packets, bad.length, 'the VSP saw only the good packets');
  stillServes(b);
});

test('guest -> host ring indices out of range, lying descriptors and oversized packets fail the channel, not the host', () => {
  const cases: { name: string; log: string; damage(b: Bed): void }[] = [
    { name: 'write_index past the data area', log: 'ring broken: BadWriteIndex', damage: (b) => writeU32(b.bus.client.ram.page(b.ch.ringPfns[0]), RING_WRITE_INDEX, 3 * PAGE_SIZE + 8) },
    { name: 'misaligned write_index', log: 'ring broken: BadWriteIndex', damage: (b) => writeU32(b.bus.client.ram.page(b.ch.ringPfns[0]), RING_WRITE_INDEX, 12) },
    { name: 'len8 beyond the bytes written', log: 'ring broken: Truncated', damage: (b) => {
      const page = b.bus.client.ram.page(b.ch.ringPfns[1]);
      writeDescriptor(page, PACKET_TYPE_DATA_INBAND, 16, 800, 0, 0, 0);
      writeU32(b.bus.client.ram.page(b.ch.ringPfns[0]), RING_WRITE_INDEX, 32);
    } },
    { name: 'offset8 past len8', log: 'ring broken: BadOffset', damage: (b) => {
      const page = b.bus.client.ram.page(b.ch.ringPfns[1]);
      writeDescriptor(page, PACKET_TYPE_DATA_INBAND, 64, 24, 0, 0, 0);
      writeU32(b.bus.client.ram.page(b.ch.ringPfns[0]), RING_WRITE_INDEX, 32);
    } },
    { name: 'len8 below a descriptor', log: 'ring broken: BadLength', damage: (b) => {
      const page = b.bus.client.ram.page(b.ch.ringPfns[1]);
      writeDescriptor(page, PACKET_TYPE_DATA_INBAND, 16, 8, 0, 0, 0);
      writeU32(b.bus.client.ram.page(b.ch.ringPfns[0]), RING_WRITE_INDEX, 32);
    } },
  ];
  for (const c of cases) {
    const b = bed();
    c.damage(b);
    assert.equal(b.ch.signal(), 0);
    assert.deepEqual(b.echo.events, ['open 1', 'close 1'], c.name);
    assert.ok(b.bus.log.some((l) => l.includes('relid 1 (echo): channel failed, closing it: guest -> host ring ' + c.log.slice(5))), `${c.name}: ${b.bus.log.join('\n')}`);
    assert.equal(counters(b.bus).channelsFailed, 1);
    assert.equal(b.ch.signal(), 0, 'more signals on the failed channel are ignored');
    // The guest closes the failed channel, reopens it with fresh rings, and it works.
    b.ch.close();
    b.ch = b.bus.client.openChannel(1);
    stillServes(b);
  }
  // Oversized: a 70 KiB packet in a 124 KiB ring is more than the server takes (64 KiB).
  const b = bed();
  const big = b.bus.client.openChannel(2, { sendPages: 32, recvPages: 4 });
  const p = new Uint8Array(70 * 1024);
  writeDescriptor(p, PACKET_TYPE_DATA_INBAND, 16, p.length, 0, 0, 0);
  assert.equal(big.sendRaw(p, p.length), RingStatus.OkSignal);
  assert.deepEqual(b.other.events, ['open 2', 'close 2']);
  assert.ok(b.bus.log.some((l) => l.includes('relid 2 (other): channel failed, closing it: guest -> host ring broken: TooLarge')));
  b.ch.send(new Uint8Array([3]));
  assert.equal(b.ch.receive()!.payload[0], 3);
});

test('a guest rewriting the host -> guest ring\'s read index makes sends fail, not the host', () => {
  const b = bed();
  writeU32(b.bus.client.ram.page(b.ch.ringPfns[4]), RING_READ_INDEX, 0xfff8_0000);
  b.ch.send(new Uint8Array([1]));
  assert.equal(b.echo.lastSend, RingStatus.BadReadIndex);
  assert.ok(b.bus.log.some((l) => l.includes('host -> guest ring refused a send: BadReadIndex')));
  writeU32(b.bus.client.ram.page(b.ch.ringPfns[4]), RING_READ_INDEX, 0);
  b.ch.send(new Uint8Array([2]));
  assert.equal(b.ch.receive()!.payload[0], 2);
});

test('a guest -> host ring that refills while it is drained stops after two rings\' worth and fails the channel', () => {
  const bus = createLoopbackBus({ vpCount: 1 });
  // A VSP whose every packet makes another one appear in the ring (as aliased ring pages could): without a bound
  // the drain would never end.
  let seen = 0;
  let ch: ReturnType<LoopbackBus['client']['openChannel']> | null = null;
  const refill = new EchoVsp(testOffer('refill'));
  refill.packet = () => {
    seen++;
    // Aliasing also moves the read index the writer sees (so the ring never looks full) — simulate both.
    const ctl = bus.client.ram.page(ch!.ringPfns[0]);
    writeU32(ctl, RING_READ_INDEX, readU32(ctl, RING_WRITE_INDEX));
    ch!.rings.outgoing.writePacket(PACKET_TYPE_DATA_INBAND, 0, seen, 0, new Uint8Array(8), 0, 8);
  };
  bus.server.addVsp(refill);
  bus.client.connect();
  bus.client.requestOffers();
  ch = bus.client.openChannel(1, { sendPages: 2, recvPages: 2 }); // 4 KiB of data each way
  ch.send(new Uint8Array(8));
  assert.equal(seen, 2 * Math.ceil(4096 / 24) + 2);
  assert.deepEqual(refill.events, ['open 1', 'close 1']);
  assert.ok(bus.log.some((l) => l.includes('relid 1 (refill): channel failed, closing it: the guest -> host ring refills while it is drained')));
});

test('GPADL limits: the pages all GPADLs describe are bounded; a teardown gives them back', () => {
  const b = bed();
  const page = b.bus.client.ram.alloc(1)[0];
  const big = new Array<number>(8000).fill(page); // the same page 8000 times: the host still holds 8000 views
  const fit = Math.floor((MAX_GPADL_PAGES - 8) / 8000); // the echo ring holds 8 pages
  const ids: number[] = [];
  for (let i = 0; i < fit; i++) {
    const g = b.bus.client.createGpadl(2, big);
    assert.equal(g.status, 0);
    ids.push(g.id);
  }
  const over = b.bus.client.createGpadl(2, big);
  assert.notEqual(over.status, 0);
  assert.ok(b.bus.log.some((l) => l.includes(`more than ${MAX_GPADL_PAGES} pages in GPADLs`)));
  b.bus.client.teardownGpadl(2, ids[0]);
  assert.equal(b.bus.client.createGpadl(2, big).status, 0);
  stillServes(b);
});
