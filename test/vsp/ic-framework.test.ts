// The IC framework through the real VmbusServer and the TS guest bus client: the four offers, the host's
// NEGOTIATE as Linux reads it, the guest's version choice (Linux 6.1's preference lists, an old guest, a guest
// that matches nothing), hostile guest packets (short, wrong type, absurd sizes, out-of-turn answers, fuzz)
// that are dropped without the VSP throwing, a full ring, and close/reopen.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  HEARTBEAT_INSTANCE_ID, IC_BODY, IcFlag, IcHdr, IcMsgType, KVP_INSTANCE_ID, NEGOTIATE_FIXED_SIZE,
  SHUTDOWN_INSTANCE_ID, TIMESYNC_INSTANCE_ID, buildIcPacket, readU32, readU64, writeU64,
} from '../../src/vsp/ic/index.js';
import { PACKET_TYPE_DATA_INBAND } from '../../src/vmbus/index.js';
import { CLASS_OF, LINUX_PREFS, LinuxIcGuest, icBed, pumpUntil, sleep } from './ic-guest.js';
import { createLoopbackBus } from '../../src/vmbus/loopback-bus.js';

const v = (major: number, minor: number) => ({ major, minor });

describe('IC offers and negotiation', () => {
  it('offers heartbeat, shutdown, time sync and KVP with the hyperv.h class GUIDs', () => {
    const { bus } = icBed();
    const offers = [...bus.client.offers.values()];
    const byClass = new Map(offers.map((o) => [o.classId, o.instanceId]));
    assert.equal(byClass.get('57164f39-9115-4e78-ab55-382f3bd5422d'), HEARTBEAT_INSTANCE_ID);
    assert.equal(byClass.get('0e0b6031-5213-4934-818b-38d90ced39db'), SHUTDOWN_INSTANCE_ID);
    assert.equal(byClass.get('9527e630-d0ae-497b-adce-e80ab0175caf'), TIMESYNC_INSTANCE_ID);
    assert.equal(byClass.get('a9a0f4e7-5a45-4d96-b827-8a841e8c03e6'), KVP_INSTANCE_ID);
    assert.equal(offers.length, 4);
  });

  it('sends NEGOTIATE first, laid out as struct icmsg_hdr + icmsg_negotiate with framework then service versions', () => {
    const { bus } = icBed();
    const ch = bus.client.openChannel(bus.client.offerOf(CLASS_OF.shutdown).childRelid);
    const p = ch.receive();
    assert.ok(p);
    assert.equal(p.type, PACKET_TYPE_DATA_INBAND);
    assert.equal(p.flags, 0, 'Linux never completes IC packets: no completion requested');
    assert.notEqual(p.transIdLo, 0);
    const b = p.payload;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    assert.equal(dv.getUint16(IcHdr.msgType, true), IcMsgType.NEGOTIATE);
    assert.equal(b[IcHdr.flags], IcFlag.TRANSACTION | IcFlag.REQUEST);
    assert.equal(dv.getUint16(IC_BODY, true), 2, 'framework versions');
    assert.equal(dv.getUint16(IC_BODY + 2, true), 4, 'shutdown versions');
    assert.equal(dv.getUint16(IcHdr.msgSize, true), NEGOTIATE_FIXED_SIZE + 6 * 4);
    assert.equal(readU32(b, 4), 20 + NEGOTIATE_FIXED_SIZE + 6 * 4, 'vmbuspipe_hdr.msgsize: the rest of the message');
    const entries = Array.from({ length: 6 }, (_, i) => `${dv.getUint16(IC_BODY + 8 + 4 * i, true)}.${dv.getUint16(IC_BODY + 10 + 4 * i, true)}`);
    assert.deepEqual(entries, ['1.0', '3.0', '1.0', '3.0', '3.1', '3.2']);
    assert.equal(ch.receive(), null, 'nothing else before the guest answers');
  });

  it('agrees on the versions Linux 6.1 picks: framework 3.0, heartbeat 3.0, shutdown 3.2, timesync 4.0 (3.0 without a reference clock), KVP 4.0', async () => {
    const { ics, open } = icBed({ timesync: { referenceTime: () => 1 } });
    const guests = (['heartbeat', 'shutdown', 'timesync', 'kvp'] as const).map((k) => open(k));
    await pumpUntil(guests, () => [ics.heartbeat, ics.shutdown, ics.timesync, ics.kvp].every((s) => s.phase === 'ready'), 2000, 'negotiation');
    const got = [ics.heartbeat, ics.shutdown, ics.timesync, ics.kvp].map((s) => `${s.framework?.major}.${s.framework?.minor}/${s.service?.major}.${s.service?.minor}`);
    assert.deepEqual(got, ['3.0/3.0', '3.0/3.2', '3.0/4.0', '3.0/4.0']);
    assert.deepEqual(guests.map((g) => g.log.negotiated?.service), [v(3, 0), v(3, 2), v(4, 0), v(4, 0)]);

    const plain = icBed();
    const g = plain.open('timesync');
    g.pump();
    assert.equal(plain.ics.timesync.phase, 'ready');
    assert.deepEqual(plain.ics.timesync.service, v(3, 0));
  });

  it('follows an old guest that knows framework 1.0 and heartbeat 1.0 only, and beats with it', async () => {
    const { ics, open } = icBed({ heartbeat: { periodMs: 10 } });
    const g = open('heartbeat', { framework: [v(1, 0)], service: [v(1, 0)] });
    await pumpUntil([g], () => ics.heartbeat.state().answered >= 2, 2000, 'two beats');
    assert.deepEqual(ics.heartbeat.framework, v(1, 0));
    assert.deepEqual(ics.heartbeat.service, v(1, 0));
  });

  it('stops at refused when the guest matches none of the offered versions, and sends nothing more', () => {
    const { ics, open } = icBed();
    const states: string[] = [];
    ics.shutdown.onStateChange((e) => states.push(e.phase));
    const g = open('shutdown', { framework: LINUX_PREFS.framework, service: [v(9, 9)] });
    g.pump();
    assert.equal(ics.shutdown.phase, 'refused');
    assert.equal(g.log.negotiateFailed, true);
    assert.equal(ics.shutdown.request('shutdown'), false);
    assert.equal(g.ch.receive(), null);
    assert.deepEqual(states, ['negotiating', 'refused']);
  });
});

describe('IC framework against a hostile guest', () => {
  it('drops malformed NEGOTIATE answers and still negotiates when the real one comes; each drop is flagged a problem, the negotiation is not', () => {
    const { ics, bus, icProblems, icLog } = icBed();
    const ch = bus.client.openChannel(bus.client.offerOf(CLASS_OF.heartbeat).childRelid);
    const req = ch.receive()!;
    const answer = (mutate: (b: Uint8Array, dv: DataView) => void, len = req.payload.length): void => {
      const b = new Uint8Array(len);
      b.set(req.payload.subarray(0, Math.min(len, req.payload.length)));
      const dv = new DataView(b.buffer);
      if (len > IcHdr.flags) b[IcHdr.flags] = IcFlag.TRANSACTION | IcFlag.RESPONSE;
      mutate(b, dv);
      ch.send(b, { transIdLo: req.transIdLo });
    };
    const o = IC_BODY + NEGOTIATE_FIXED_SIZE;
    answer((_b, dv) => { dv.setUint16(IC_BODY, 1, true); dv.setUint16(IC_BODY + 2, 1, true); dv.setUint16(o, 7, true); dv.setUint16(o + 4, 3, true); }); // framework 7.0 never offered
    answer((_b, dv) => { dv.setUint16(IC_BODY, 1, true); dv.setUint16(IC_BODY + 2, 1, true); dv.setUint16(o, 3, true); dv.setUint16(o + 4, 3, true); dv.setUint16(o + 6, 9, true); }); // service 3.9
    answer((_b, dv) => { dv.setUint16(IC_BODY, 100, true); dv.setUint16(IC_BODY + 2, 100, true); }); // absurd counts
    answer(() => {}, IC_BODY + 2); // cut inside icmsg_negotiate
    answer(() => {}, 12); // cut inside icmsg_hdr
    answer((b) => { b[IcHdr.flags] = IcFlag.TRANSACTION | IcFlag.REQUEST; }); // not a response
    ch.send(new Uint8Array(req.payload), { transIdLo: req.transIdLo + 77 }); // a transaction we never started
    assert.equal(ics.heartbeat.phase, 'negotiating');
    assert.equal(ics.heartbeat.inspect().dropped, 7);
    answer((_b, dv) => { dv.setUint16(IC_BODY, 1, true); dv.setUint16(IC_BODY + 2, 1, true); dv.setUint16(o, 3, true); dv.setUint16(o + 4, 3, true); });
    assert.equal(ics.heartbeat.phase, 'ready');
    assert.deepEqual(ics.heartbeat.service, v(3, 0));
    assert.equal(icProblems.length, 7, icProblems.join('\n'));
    assert.ok(icProblems.every((l) => l.startsWith('ic/heartbeat: dropped guest packet #')), icProblems.join('\n'));
    assert.ok(icLog.includes('ic/heartbeat: negotiated framework 3.0, service 3.0'), icLog.join('\n'));
  });

  it('drops short, mistyped, unsolicited and oversized packets after negotiation, never throws, and keeps working', async () => {
    const { ics, open, bus } = icBed({ heartbeat: { periodMs: 5 } });
    const g = open('heartbeat');
    g.pump();
    assert.equal(ics.heartbeat.phase, 'ready');
    const hostile = (payload: Uint8Array, transIdLo = 1, transIdHi = 0): void => { g.ch.send(payload, { transIdLo, transIdHi }); };
    const hdr = (msgType: number, flags: number, bodySize: number) => buildIcPacket({ frame: v(3, 0), msgType, msg: v(3, 0), transactionId: 0, flags }, bodySize);
    hostile(new Uint8Array(4));
    hostile(new Uint8Array(0));
    hostile(hdr(IcMsgType.SHUTDOWN, IcFlag.TRANSACTION | IcFlag.RESPONSE, 2060)); // another service's message
    hostile(hdr(0xffff, IcFlag.TRANSACTION | IcFlag.RESPONSE, 8));
    hostile(hdr(IcMsgType.HEARTBEAT, IcFlag.TRANSACTION | IcFlag.REQUEST, 40)); // a request from the guest
    hostile(hdr(IcMsgType.HEARTBEAT, IcFlag.TRANSACTION | IcFlag.RESPONSE, 2)); // too short for seq_num
    hostile(hdr(IcMsgType.HEARTBEAT, IcFlag.TRANSACTION | IcFlag.RESPONSE, 40), 0xdead, 0); // never sent
    hostile(hdr(IcMsgType.HEARTBEAT, IcFlag.TRANSACTION | IcFlag.RESPONSE, 40), 1, 0xffffffff);
    hostile(hdr(IcMsgType.NEGOTIATE, IcFlag.TRANSACTION | IcFlag.RESPONSE, 16)); // renegotiation attempt
    const big = hdr(IcMsgType.HEARTBEAT, IcFlag.TRANSACTION | IcFlag.RESPONSE, 8000); // icmsgsize truncated, absurd length
    new DataView(big.buffer).setUint16(IcHdr.msgSize, 0xffff, true);
    hostile(big);
    hostile(new Uint8Array(8), 1, 0);
    const raw = new Uint8Array(64);
    new DataView(raw.buffer).setUint16(0, 9, true); // PACKET_TYPE_DATA_USING_GPA_DIRECT with no ranges
    new DataView(raw.buffer).setUint16(2, 3, true);
    new DataView(raw.buffer).setUint16(4, 8, true);
    g.ch.sendRaw(raw, 64);
    // A fuzz of random bytes and of damaged copies of real answers.
    let seed = 12345;
    const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
    for (let i = 0; i < 300; i++) {
      const len = rnd() % 200;
      const b = new Uint8Array(len);
      for (let j = 0; j < len; j++) b[j] = rnd() & 0xff;
      if (i % 2 === 0 && len > IcHdr.flags) { b[IcHdr.flags] = IcFlag.RESPONSE; new DataView(b.buffer).setUint16(IcHdr.msgType, rnd() % 3, true); }
      g.ch.send(b, { transIdLo: rnd() % 4 });
    }
    const dropped = ics.heartbeat.inspect().dropped;
    assert.ok(dropped >= 305, `dropped ${dropped}`);
    assert.ok(!bus.log.some((l) => /threw/.test(l)), 'the server saw no VSP exception');
    assert.equal(ics.heartbeat.phase, 'ready');
    const before = ics.heartbeat.state().answered;
    await pumpUntil([g], () => ics.heartbeat.state().answered >= before + 3, 2000, 'beats after the garbage');
    assert.equal(ics.heartbeat.state().alive, true);
  });

  it('keeps requests while the host -> guest ring is full and sends them when the guest drains it', async () => {
    const { ics, open } = icBed();
    const g = open('shutdown');
    g.pump();
    g.reading = false;
    for (let i = 0; i < 10; i++) assert.equal(ics.shutdown.request(i % 2 ? 'reboot' : 'shutdown', `request ${i}`), true);
    // 2088-byte requests: a 3-page data area holds five; the rest wait in the VSP.
    assert.ok(ics.shutdown.inspect().queued > 0, 'some requests wait for room');
    g.reading = true;
    await pumpUntil([g], () => g.log.shutdowns.length === 10 && ics.shutdown.state().pending === 0, 2000, 'all ten answered');
    assert.deepEqual(g.log.shutdowns.map((s) => s.flags), [0, 2, 0, 2, 0, 2, 0, 2, 0, 2]);
    assert.equal(ics.shutdown.inspect().queued, 0);
  });

  it('closes cleanly (no more sends, state closed) and negotiates again on reopen', async () => {
    const { ics, open } = icBed({ heartbeat: { periodMs: 5 } });
    const g = open('heartbeat');
    await pumpUntil([g], () => ics.heartbeat.state().answered >= 1, 2000, 'a beat');
    const phases: string[] = [];
    ics.heartbeat.onStateChange((e) => phases.push(e.phase));
    g.ch.close();
    assert.equal(ics.heartbeat.phase, 'closed');
    assert.equal(ics.heartbeat.state().alive, false);
    const sentAtClose = ics.heartbeat.inspect().sent;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(ics.heartbeat.inspect().sent, sentAtClose, 'the timer died with the channel');
    const g2 = open('heartbeat');
    await pumpUntil([g2], () => ics.heartbeat.state().alive, 2000, 'alive again');
    assert.deepEqual(phases, ['closed', 'negotiating', 'ready']);
    assert.ok(g2.log.heartbeats.length >= 1);
  });

  it('survives a reboot as the worker does it: the old server disposed closes every channel, a new server offers the same services and they negotiate again', async () => {
    const first = icBed({ heartbeat: { periodMs: 5 } });
    const { ics } = first;
    const guests = (['heartbeat', 'shutdown', 'timesync', 'kvp'] as const).map((k) => first.open(k));
    await pumpUntil(guests, () => ics.heartbeat.state().answered >= 1 && ics.kvp.phase === 'ready', 2000, 'first boot');
    first.bus.server.dispose();
    assert.deepEqual([ics.heartbeat, ics.shutdown, ics.timesync, ics.kvp].map((s) => s.phase), ['closed', 'closed', 'closed', 'closed']);
    assert.equal(ics.shutdown.request('reboot'), false);
    const sentBefore = ics.heartbeat.inspect().sent;
    await sleep(20);
    assert.equal(ics.heartbeat.inspect().sent, sentBefore, 'no timer outlives the boot');
    // The next boot: a new server and guest, the same VSP objects.
    const bus = createLoopbackBus();
    for (const vsp of ics.vsps) bus.server.addVsp(vsp);
    bus.client.connect();
    bus.client.requestOffers();
    const g = new LinuxIcGuest(bus.client.openChannel(bus.client.offerOf(CLASS_OF.heartbeat).childRelid), 'heartbeat');
    await pumpUntil([g], () => ics.heartbeat.state().alive, 2000, 'alive on the second boot');
    assert.ok(ics.heartbeat.state().answered >= 2);
  });

  it('writes u64 fields little-endian past 2^32 (heartbeat sequence numbers)', () => {
    const b = new Uint8Array(16);
    writeU64(b, 4, 2 ** 40 + 5);
    assert.deepEqual([...b.subarray(4, 12)], [5, 0, 0, 0, 0, 1, 0, 0]);
    assert.equal(readU64(b, 4), 2 ** 40 + 5);
  });
});
