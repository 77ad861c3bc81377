// The VMBus channel server against the TypeScript guest bus client (which follows Linux 6.1's hv_vmbus): message
// layouts at Linux's offsets, version negotiation, offers, GPADLs, open/close, packets both ways through an echo
// VSP, rescind/release, hot add, UNLOAD, reset and MODIFYCHANNEL.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_MODIFYCHANNEL_RESPONSE,
  CHANNELMSG_OFFERCHANNEL, CHANNELMSG_RESCIND_CHANNELOFFER, CHANNELMSG_VERSION_RESPONSE, createLoopbackBus,
  decodeOffer, decodeVersionResponse, encodeHeaderOnly, encodeInitiateContact, encodeOffer, encodeOpenChannel,
  encodeModifyChannel, encodeVersionResponse, PACKET_FLAG_COMPLETION_REQUESTED, PACKET_TYPE_COMP, PACKET_TYPE_DATA_INBAND,
  readU32, RingStatus, CHANNELMSG_REQUESTOFFERS, MESSAGE_SIZE, encodeGpadlCreated, encodeOpenResult,
  encodeModifyChannelResponse, encodeGpadlTeardown, PAGE_SIZE,
} from '../../src/vmbus/index.js';
import { EchoVsp, HEARTBEAT_CLASS, SHUTDOWN_CLASS, testOffer } from './server-helpers.js';

function connected(vsps: EchoVsp[], vpCount = 2) {
  const bus = createLoopbackBus({ vpCount });
  for (const v of vsps) bus.server.addVsp(v);
  bus.client.connect();
  bus.client.requestOffers();
  return bus;
}

test('message layouts sit at the offsets of include/linux/hyperv.h', () => {
  const o = encodeOffer({
    classId: HEARTBEAT_CLASS, instanceId: '11223344-5566-7788-99aa-bbccddeeff00', flags: 0, mmioMegabytes: 8,
    userDefined: null, subChannelIndex: 0, childRelid: 0x123, connectionId: 0x2123,
  });
  assert.equal(o.length, 196); // sizeof(struct vmbus_channel_offer_channel)
  assert.equal(readU32(o, 0), 1);
  // guid_t: first three groups little-endian.
  assert.deepEqual([...o.subarray(8, 24)], [0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d]);
  assert.deepEqual([...o.subarray(24, 28)], [0x44, 0x33, 0x22, 0x11]);
  assert.equal(o[58], 8); // mmio_megabytes
  assert.equal(readU32(o, 184), 0x123); // child_relid
  assert.equal(o[188], 0xff); // monitorid
  assert.equal(o[189], 0); // monitor_allocated
  assert.equal(o[190], 1); // is_dedicated_interrupt
  assert.equal(readU32(o, 192), 0x2123); // connection_id
  const d = decodeOffer(o)!;
  assert.equal(d.instanceId, '11223344-5566-7788-99aa-bbccddeeff00');
  assert.equal(d.classId, HEARTBEAT_CLASS);

  const ic = encodeInitiateContact({ version: 0x50003, targetVcpu: 3 });
  assert.equal(ic.length, 40);
  assert.deepEqual([readU32(ic, 0), readU32(ic, 8), readU32(ic, 12), ic[16]], [14, 0x50003, 3, 2]);
  const vr = encodeVersionResponse(true, 1);
  assert.equal(vr.length, 16);
  assert.deepEqual([readU32(vr, 0), vr[8], vr[9], readU32(vr, 12)], [15, 1, 0, 1]);
  const op = encodeOpenChannel({ childRelid: 5, openId: 5, ringGpadl: 0xe1e10, targetVp: 1, downstreamPageOffset: 4, userData: new Uint8Array([9]) });
  assert.equal(op.length, 148);
  assert.deepEqual([readU32(op, 8), readU32(op, 12), readU32(op, 16), readU32(op, 20), readU32(op, 24), op[28]], [5, 5, 0xe1e10, 1, 4, 9]);
  const res = encodeOpenResult(5, 5, 7);
  assert.deepEqual([res.length, readU32(res, 0), readU32(res, 8), readU32(res, 12), readU32(res, 16)], [20, 6, 5, 5, 7]);
  const gc = encodeGpadlCreated(5, 0xe1e10, 0);
  assert.deepEqual([gc.length, readU32(gc, 0), readU32(gc, 8), readU32(gc, 12)], [20, 10, 5, 0xe1e10]);
  const gt = encodeGpadlTeardown(5, 0xe1e11);
  assert.deepEqual([gt.length, readU32(gt, 0), readU32(gt, 8), readU32(gt, 12)], [16, 11, 5, 0xe1e11]);
  const mc = encodeModifyChannel(5, 1);
  assert.deepEqual([mc.length, readU32(mc, 0), readU32(mc, 8), readU32(mc, 12)], [16, 22, 5, 1]);
  const mr = encodeModifyChannelResponse(5, 0);
  assert.deepEqual([mr.length, readU32(mr, 0), readU32(mr, 8)], [16, 24, 5]);
  // The minimum sizes Linux's channel_message_table enforces on what it receives.
  assert.deepEqual([MESSAGE_SIZE[1], MESSAGE_SIZE[2], MESSAGE_SIZE[6], MESSAGE_SIZE[10], MESSAGE_SIZE[12], MESSAGE_SIZE[15], MESSAGE_SIZE[24]], [196, 12, 20, 20, 12, 16, 16]);
});

test('handshake: 5.3 accepted on connection 4 with msg_conn_id 1; offers only after REQUESTOFFERS, then ALLOFFERS_DELIVERED', () => {
  const a = new EchoVsp(testOffer('a')), b = new EchoVsp(testOffer('b', SHUTDOWN_CLASS));
  const bus = createLoopbackBus({ vpCount: 2 });
  bus.server.addVsp(a);
  bus.server.addVsp(b);
  assert.equal(bus.synic.messages.length, 0, 'nothing is posted before the guest makes contact');
  assert.ok(bus.synic.servesMessages(1) && bus.synic.servesMessages(4));
  assert.equal(bus.client.connect(), 0x50003);
  assert.equal(bus.client.msgConnId, 1);
  bus.client.collect();
  assert.equal(bus.client.offers.size, 0, 'no offer before REQUESTOFFERS (Linux would oops)');
  bus.client.post(encodeHeaderOnly(CHANNELMSG_REQUESTOFFERS));
  const types = bus.synic.messages.map((m) => readU32(m.payload, 0));
  assert.deepEqual(types, [CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_ALLOFFERS_DELIVERED]);
  assert.ok(bus.synic.messages.every((m) => m.vp === 0 && m.sint === 2 && m.type === 1));
  bus.client.expect(CHANNELMSG_ALLOFFERS_DELIVERED);
  const offers = [...bus.client.offers.values()].sort((x, y) => x.childRelid - y.childRelid);
  assert.deepEqual(offers.map((o) => o.childRelid), [1, 2]);
  assert.deepEqual(offers.map((o) => o.classId), [HEARTBEAT_CLASS, SHUTDOWN_CLASS]);
  assert.deepEqual(offers.map((o) => o.instanceId), [a.offer.instanceId, b.offer.instanceId]);
  for (const o of offers) {
    assert.equal(o.monitorAllocated, false);
    assert.equal(o.dedicatedInterrupt, true);
    assert.ok(o.connectionId > 4 && bus.synic.servesEvents(o.connectionId));
  }
  assert.notEqual(offers[0].connectionId, offers[1].connectionId);
  const info = bus.server.inspect() as { version: string; connected: boolean; channels: { state: string }[] };
  assert.equal(info.version, '5.3');
  assert.deepEqual(info.channels.map((c) => c.state), ['offered', 'offered']);
  assert.ok(bus.log.some((l) => l.includes('connected, version 5.3')));
});

test('version negotiation: versions Linux does not try are refused; 4.0 on connection 1; contact to another VP', () => {
  const bus = createLoopbackBus({ vpCount: 4 });
  assert.equal(bus.client.connect([0x00010001, 0x00000013, 0x00050004, 0x00040000]), 0x00040000);
  assert.equal(bus.client.msgConnId, 1);
  assert.equal(bus.log.filter((l) => l.startsWith('vmbus: refused version')).length, 3);
  // A VMBus client on VP 3 gets its answers there.
  const bus2 = createLoopbackBus({ vpCount: 4 });
  bus2.synic.guestPostMessage(4, 1, encodeInitiateContact({ version: 0x50002, targetVcpu: 3 }));
  assert.equal(bus2.synic.messages.length, 1);
  assert.equal(bus2.synic.messages[0].vp, 3);
  assert.deepEqual(decodeVersionResponse(bus2.synic.messages[0].payload), { supported: true, connectionState: 0, msgConnId: 1 });
  assert.equal(readU32(bus2.synic.messages[0].payload, 0), CHANNELMSG_VERSION_RESPONSE);
});

test('a host capped at an older version (maxVersion) refuses the newer ones a guest asks first, without calling it a problem, and the guest falls back', () => {
  const bus = createLoopbackBus({ maxVersion: 0x00040000 });
  assert.equal(bus.client.connect(), 0x00040000, "Linux's list walked down to 4.0");
  assert.equal(bus.client.msgConnId, 1);
  assert.deepEqual(bus.log.filter((l) => l.startsWith('vmbus: refused version')).map((l) => l.split(':')[1].trim()),
    ['refused version 5.3', 'refused version 5.2', 'refused version 5.1', 'refused version 5.0', 'refused version 4.1']);
  assert.deepEqual(bus.problems, [], 'an expected fall-back is not a problem');
  assert.deepEqual(bus.client.requestOffers(), [], 'and is served at that version');
  assert.throws(() => createLoopbackBus({ maxVersion: 0x00040002 }), /not a version it serves/);
});

test('echo: in-band packets both ways through open rings, trans ids past 2^53 kept, signals by the ring rules', () => {
  const echo = new EchoVsp(testOffer('echo'));
  const bus = connected([echo]);
  const ch = bus.client.openChannel(1, { userData: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(echo.events, ['open 1']);
  assert.deepEqual([...echo.userData!.subarray(0, 4)], [1, 2, 3, 0]);
  assert.equal(echo.userData!.length, 120);
  for (let i = 0; i < 200; i++) {
    const payload = Uint8Array.from({ length: 1 + (i % 50) }, (_, k) => (i + k) & 0xff);
    const flags = i % 2 ? PACKET_FLAG_COMPLETION_REQUESTED : 0;
    const st = ch.send(payload, { transIdLo: i, transIdHi: 0xfffffff0, flags });
    assert.equal(st, RingStatus.OkSignal, 'the ring was empty: Linux signals, the server drains it to empty');
    assert.ok(ch.takeSignal(), 'the host signalled the echo (SIEF flag relid on the target VP)');
    const p = ch.receive()!;
    assert.equal(p.type, flags ? PACKET_TYPE_COMP : PACKET_TYPE_DATA_INBAND);
    assert.equal(p.transIdLo, i);
    assert.equal(p.transIdHi, 0xfffffff0);
    assert.deepEqual([...p.payload.subarray(0, payload.length)], [...payload]);
    assert.ok(p.payload.subarray(payload.length).every((x) => x === 0), 'padding is zero');
    assert.equal(ch.receive(), null);
  }
  assert.equal(echo.packets, 200);
  const c = (bus.server.inspect() as { counters: Record<string, number> }).counters;
  assert.equal(c.packets, 200);
  assert.equal(c.packetsSent, 200);
  assert.equal(c.refused, 0);
  assert.equal(c.refusedPackets, 0);
  ch.close();
  assert.ok(bus.log.some((l) => l.startsWith('vmbus: opened relid 1')) && bus.log.some((l) => l.startsWith('vmbus: closed relid 1')));
  assert.deepEqual(bus.problems, [], 'a well-behaved guest causes no problem lines (the worker prints those without --trace-vmbus)');
});

test('a batch written while the host is not signalled is drained to empty on the next signal', () => {
  const echo = new EchoVsp(testOffer('echo'));
  const bus = connected([echo]);
  const ch = bus.client.openChannel(1, { sendPages: 8, recvPages: 8 });
  // Write 20 packets without signalling (as if the signal for the first is still in flight).
  for (let i = 0; i < 20; i++) assert.ok(ch.rings.outgoing.writePacket(PACKET_TYPE_DATA_INBAND, 0, i, 0, new Uint8Array(24), 0, 24) > 0);
  assert.equal(echo.packets, 0);
  ch.signal();
  assert.equal(echo.packets, 20);
  assert.equal(ch.rings.outgoing.writePacket(PACKET_TYPE_DATA_INBAND, 0, 99, 0, new Uint8Array(8), 0, 8), RingStatus.OkSignal, 'the host consumed everything and published its read index');
  assert.equal(ch.receiveAll().length, 20);
  assert.equal(ch.takeSignal(), true);
});

test('GPA-direct packets: the VSP reads and writes the named guest pages', () => {
  const echo = new EchoVsp(testOffer('echo'));
  const bus = connected([echo]);
  const ch = bus.client.openChannel(1);
  const [p0, p1] = bus.client.ram.alloc(2);
  const data = bus.client.ram.bytes;
  const base = (p0 - bus.client.ram.firstPfn) * PAGE_SIZE;
  for (let i = 0; i < 2 * PAGE_SIZE; i++) data[base + i] = i & 0xff;
  // 3000 bytes starting 3000 bytes into the first page: spans both pages.
  const n = 3000;
  ch.sendGpaDirect([{ byteCount: n, byteOffset: 3000, pfns: [p0, p1] }], new Uint8Array([n & 0xff, n >> 8]), { transIdLo: 7, flags: 1 });
  const r = ch.receive()!;
  assert.equal(r.type, PACKET_TYPE_COMP);
  assert.equal(r.transIdLo, 7);
  assert.deepEqual([...r.payload.subarray(0, 4)], [1, 1, n & 0xff, n >> 8]);
  for (let i = 0; i < n; i++) assert.equal(data[base + 3000 + i], (3000 + n - 1 - i) & 0xff);
  assert.equal(data[base + 2999], 2999 & 0xff, 'bytes before the range untouched');
  assert.equal(data[base + 6000], 6000 & 0xff, 'bytes after the range untouched');
});

test('close, GPADL teardown and reopen; the VSP sees close then a new channel', () => {
  const echo = new EchoVsp(testOffer('echo'));
  const bus = connected([echo]);
  const ch = bus.client.openChannel(1);
  const first = echo.channel;
  ch.close();
  assert.deepEqual(echo.events, ['open 1', 'close 1']);
  assert.equal(first!.send(PACKET_TYPE_DATA_INBAND, 0, 0, 0, new Uint8Array(8)), RingStatus.BadPacket, 'a closed channel sends nothing');
  assert.equal(ch.signal(), 0);
  const c = (bus.server.inspect() as { counters: Record<string, number>; gpadls: { established: number } });
  assert.equal(c.counters.signalsIgnored, 1);
  assert.equal(c.gpadls.established, 0);
  const ch2 = bus.client.openChannel(1);
  assert.notEqual(echo.channel, first);
  ch2.send(new Uint8Array([5]));
  assert.equal(ch2.receive()!.payload[0], 5);
});

test('rescind: RESCIND_CHANNELOFFER, the VSP closed, the relid held until RELID_RELEASED', () => {
  const a = new EchoVsp(testOffer('a')), b = new EchoVsp(testOffer('b'));
  const bus = connected([a, b]);
  bus.client.openChannel(1);
  const conn = bus.client.offers.get(1)!.connectionId;
  bus.server.removeVsp(a);
  assert.deepEqual(a.events, ['open 1', 'close 1']);
  assert.ok(bus.client.take(CHANNELMSG_RESCIND_CHANNELOFFER, (m) => readU32(m, 8) === 1));
  assert.equal((bus.server.inspect() as { channels: { state: string }[] }).channels[0].state, 'rescinded');
  // Linux: close the channel (CLOSECHANNEL; vmbus_teardown_gpadl may still post GPADL_TEARDOWN, answered), then
  // release the relid.
  bus.client.post(new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]));
  bus.client.teardownGpadl(1, 0xe1e10);
  const c = new EchoVsp(testOffer('c'));
  bus.server.addVsp(c); // hot add: offered at once, not on relid 1
  const hot = bus.client.take(CHANNELMSG_OFFERCHANNEL);
  assert.ok(hot);
  assert.equal(decodeOffer(hot)!.childRelid, 3);
  assert.ok(bus.synic.servesEvents(conn));
  bus.client.releaseRelid(1);
  assert.equal(bus.synic.servesEvents(conn), false, 'the released channel no longer has a connection id');
  const d = new EchoVsp(testOffer('d'));
  bus.server.addVsp(d);
  assert.equal(decodeOffer(bus.client.expect(CHANNELMSG_OFFERCHANNEL))!.childRelid, 1, 'relid 1 is reused after release');
  assert.equal((bus.server.inspect() as { counters: { refused: number } }).counters.refused, 0);
  bus.client.openChannel(1).send(new Uint8Array([42]));
  assert.equal(d.packets, 1);
});

test('UNLOAD closes everything and answers; the guest reconnects and gets the same offers', () => {
  const a = new EchoVsp(testOffer('a')), b = new EchoVsp(testOffer('b'));
  const bus = connected([a, b]);
  bus.client.openChannel(1);
  bus.client.openChannel(2);
  bus.client.unload();
  assert.deepEqual(a.events, ['open 1', 'close 1']);
  assert.deepEqual(b.events, ['open 2', 'close 2']);
  const info = bus.server.inspect() as { connected: boolean; gpadls: { established: number } };
  assert.equal(info.connected, false);
  assert.equal(info.gpadls.established, 0);
  bus.client.connect();
  assert.deepEqual(bus.client.requestOffers().map((o) => o.instanceId), [a.offer.instanceId, b.offer.instanceId]);
  bus.client.openChannel(2).send(new Uint8Array([1]));
  assert.equal(b.packets, 1);
});

test('reset: channels closed, GPADLs gone, messages before INITIATE_CONTACT refused', () => {
  const a = new EchoVsp(testOffer('a'));
  const bus = connected([a]);
  bus.client.openChannel(1);
  bus.server.reset();
  assert.deepEqual(a.events, ['open 1', 'close 1']);
  bus.client.post(encodeHeaderOnly(CHANNELMSG_REQUESTOFFERS));
  assert.equal(bus.synic.messages.length, 0);
  assert.ok(bus.log.some((l) => l === 'vmbus: refused REQUESTOFFERS before INITIATE_CONTACT'));
  bus.client.offers.clear();
  bus.client.connect();
  assert.equal(bus.client.requestOffers().length, 1);
});

test('MODIFYCHANNEL retargets the channel\'s events; 5.3 answers, failure for a VP out of range', () => {
  const a = new EchoVsp(testOffer('a'));
  const bus = connected([a], 2);
  const ch = bus.client.openChannel(1);
  assert.equal(bus.client.modifyChannel(1, 1), 0);
  ch.send(new Uint8Array([1]));
  assert.equal(bus.synic.takeEvent(1, 2, 1), true, 'the echo signalled VP 1');
  assert.equal(bus.synic.takeEvent(0, 2, 1), false);
  assert.notEqual(bus.client.modifyChannel(1, 2), 0);
  assert.notEqual(bus.client.modifyChannel(9, 0), 0);
  assert.equal(bus.client.take(CHANNELMSG_MODIFYCHANNEL_RESPONSE), null);
});

test('flow control: a full host -> guest ring returns Full, sets pending_send_sz, and writable() follows the guest\'s read', () => {
  const a = new EchoVsp(testOffer('a'));
  const bus = connected([a]);
  const ch = bus.client.openChannel(1, { sendPages: 4, recvPages: 2 }); // one 4 KiB data page towards the guest
  let sent = 0;
  for (;;) {
    const st = a.channel!.send(PACKET_TYPE_DATA_INBAND, 0, sent, 0, new Uint8Array(200));
    if (st === RingStatus.Full) break;
    assert.equal(st, RingStatus.Ok);
    sent++;
  }
  assert.ok(sent > 10 && sent < 20);
  assert.equal(a.writables, 0);
  // The guest reads one packet: that frees room past pending_send_sz, so Linux's reader signals the host.
  const first = ch.receive();
  assert.equal(first!.transIdLo, 0);
  assert.equal(a.writables, 1, 'writable() after the guest freed room');
  assert.equal(a.channel!.send(PACKET_TYPE_DATA_INBAND, 0, 999, 0, new Uint8Array(200)), RingStatus.Ok);
  assert.equal(ch.receiveAll().length, sent);
});

test('a VSP that throws loses its channel, not the host; the guest closes and reopens it', () => {
  const a = new EchoVsp(testOffer('a')), b = new EchoVsp(testOffer('b'));
  const bus = connected([a, b]);
  const ca = bus.client.openChannel(1), cb = bus.client.openChannel(2);
  a.throwOnPacket = true;
  assert.doesNotThrow(() => ca.send(new Uint8Array([1])));
  assert.deepEqual(a.events, ['open 1', 'close 1']);
  assert.ok(bus.log.some((l) => l.includes('relid 1 (a): channel failed, closing it: VSP packet() threw: echo VSP: told to throw')));
  cb.send(new Uint8Array([2]));
  assert.equal(cb.receive()!.payload[0], 2, 'the other channel still serves');
  a.throwOnPacket = false;
  ca.close();
  bus.client.openChannel(1).send(new Uint8Array([3]));
  assert.equal(a.packets, 2);
});

test('a VSP refusing the open gets the guest a failed OPENCHANNEL_RESULT; the GPADL stays the guest\'s to tear down', () => {
  const a = new EchoVsp(testOffer('a'));
  a.acceptOpen = false;
  const bus = connected([a]);
  const r = bus.client.tryOpenChannel(1);
  assert.equal(typeof r, 'number');
  assert.notEqual(r, 0);
  assert.equal((bus.server.inspect() as { gpadls: { established: number } }).gpadls.established, 1);
  bus.client.teardownGpadl(1, 0xe1e10);
  a.acceptOpen = true;
  bus.client.openChannel(1);
  assert.deepEqual(a.events, ['open 1', 'open 1']);
});

test('a device re-added while its rescind is pending is offered again only after RELID_RELEASED', () => {
  const a = new EchoVsp(testOffer('a'));
  const bus = connected([a]);
  bus.server.removeVsp(a);
  assert.ok(bus.client.take(CHANNELMSG_RESCIND_CHANNELOFFER));
  bus.server.addVsp(a);
  assert.equal(bus.client.take(CHANNELMSG_OFFERCHANNEL), null, 'no second offer of the same instance while the first is not released');
  assert.throws(() => bus.server.addVsp(a), /added twice/);
  bus.client.releaseRelid(1);
  const o = decodeOffer(bus.client.expect(CHANNELMSG_OFFERCHANNEL))!;
  assert.equal(o.instanceId, a.offer.instanceId);
  assert.equal(o.childRelid, 2);
  bus.client.openChannel(2).send(new Uint8Array([1]));
  assert.equal(a.packets, 1);
  assert.throws(() => bus.server.addVsp(new EchoVsp({ ...a.offer })), /already offered/);
});

test('inspect() shows each open channel\'s ring indices; dispose() hands every connection id back', () => {
  const a = new EchoVsp(testOffer('a'));
  const bus = connected([a]);
  const ch = bus.client.openChannel(1, { sendPages: 4, recvPages: 2 });
  ch.send(new Uint8Array(10)); // 16 + 10 -> 32 bytes + 8 trailer each way
  const info = bus.server.inspect() as { channels: { open: { guestToHost: Record<string, number>; hostToGuest: Record<string, number>; targetVp: number } }[] };
  const open = info.channels[0].open;
  assert.deepEqual(open.guestToHost, { dataSize: 3 * PAGE_SIZE, writeIndex: 40, readIndex: 40, interruptMask: 0, pendingSendSz: 0 });
  assert.deepEqual(open.hostToGuest, { dataSize: PAGE_SIZE, writeIndex: 40, readIndex: 0, interruptMask: 0, pendingSendSz: 0 });
  assert.equal(open.targetVp, 0);
  const conn = bus.client.offers.get(1)!.connectionId;
  bus.server.dispose();
  assert.deepEqual(a.events, ['open 1', 'close 1']);
  assert.equal(bus.synic.servesMessages(1) || bus.synic.servesMessages(4) || bus.synic.servesEvents(conn), false);
});
