// Heartbeat, shutdown and time sync through the real VmbusServer and the TS guest bus client, with a guest that
// answers as Linux 6.1's hv_utils does: the host APIs (state, events, requests), the exact message bodies Linux
// reads, and the guest's answers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  FILETIME_UNIX_EPOCH, HV_E_FAIL, IC_BODY, ShutdownMsg, TimesyncFlag, readU32, unixMsToFiletime,
} from '../../src/vsp/ic/index.js';
import type { HeartbeatEvent, ShutdownResponse } from '../../src/vsp/ic/index.js';
import { icBed, pumpUntil, sleep } from './ic-guest.js';

describe('heartbeat IC', () => {
  it('beats every period; the guest answers seq + 1 and the host reports alive with the last sequence', async () => {
    const now = 1_000_000;
    const { ics, open } = icBed({ heartbeat: { periodMs: 10, now: () => now } });
    const events: HeartbeatEvent[] = [];
    ics.heartbeat.on((e) => events.push(e));
    assert.deepEqual(ics.heartbeat.state(), { alive: false, negotiated: false, lastSequence: null, lastResponseAt: null, sent: 0, answered: 0 });
    const g = open('heartbeat');
    await pumpUntil([g], () => ics.heartbeat.state().answered >= 3, 2000, 'three beats');
    const s = ics.heartbeat.state();
    assert.equal(s.alive, true);
    assert.equal(s.negotiated, true);
    assert.equal(s.lastResponseAt, 1_000_000);
    // The host's numbers are 1, 3, 5, ...; the guest answered each + 1.
    assert.deepEqual(g.log.heartbeats.slice(0, 3), [1, 3, 5]);
    assert.equal(s.lastSequence, g.log.heartbeats[s.answered - 1] + 1);
    assert.deepEqual(events[0], { type: 'beat', sequence: 2, at: 1_000_000 });
    assert.deepEqual(events[1], { type: 'alive', alive: true });
  });

  it('reports the guest dead when it stops answering for missedPeriods periods, and alive again when it resumes', async () => {
    let now = 0;
    const { ics, open } = icBed({ heartbeat: { periodMs: 10, missedPeriods: 3, now: () => now } });
    const alive: boolean[] = [];
    ics.heartbeat.on((e) => { if (e.type === 'alive') alive.push(e.alive); });
    const g = open('heartbeat');
    await pumpUntil([g], () => ics.heartbeat.state().alive, 2000, 'alive');
    g.reading = false;
    now = 30;
    assert.equal(ics.heartbeat.state().alive, true, 'three periods old: still alive');
    now = 31;
    assert.equal(ics.heartbeat.state().alive, false);
    await sleep(30); // a timer tick notices and tells listeners
    assert.deepEqual(alive, [true, false]);
    g.reading = true;
    await pumpUntil([g], () => ics.heartbeat.state().alive, 2000, 'alive again');
    assert.deepEqual(alive, [true, false, true]);
  });

  it('does not count an answer with the wrong sequence number', async () => {
    const { ics, bus } = icBed({ heartbeat: { periodMs: 1000 } });
    const ch = bus.client.openChannel(bus.client.offerOf('57164f39-9115-4e78-ab55-382f3bd5422d').childRelid);
    const neg = ch.receive()!;
    const ans = new Uint8Array(neg.payload);
    const dv = new DataView(ans.buffer);
    dv.setUint16(IC_BODY, 1, true); dv.setUint16(IC_BODY + 2, 1, true);
    dv.setUint16(IC_BODY + 8, 3, true); dv.setUint16(IC_BODY + 12, 3, true);
    ans[25] = 5;
    ch.send(ans, { transIdLo: neg.transIdLo });
    const beat = ch.receive()!;
    const reply = new Uint8Array(beat.payload);
    reply[25] = 5;
    new DataView(reply.buffer).setUint32(IC_BODY, 1 + 7, true); // not 1 + 1
    ch.send(reply, { transIdLo: beat.transIdLo });
    assert.equal(ics.heartbeat.state().answered, 0);
    assert.equal(ics.heartbeat.state().alive, false);
    assert.equal(ics.heartbeat.inspect().dropped, 1);
  });
});

describe('shutdown IC', () => {
  it('refuses requests (false) until the guest has negotiated', () => {
    const { ics, bus } = icBed();
    assert.equal(ics.shutdown.request('shutdown'), false, 'no channel');
    bus.client.openChannel(bus.client.offerOf('0e0b6031-5213-4934-818b-38d90ced39db').childRelid);
    assert.equal(ics.shutdown.request('shutdown'), false, 'open, NEGOTIATE unanswered');
  });

  it('sends the whole shutdown_msg_data (flags 0 power off, 2 restart, force bit 1) and reports the guest answers', async () => {
    const { ics, open } = icBed();
    const g = open('shutdown');
    g.pump();
    const responses: ShutdownResponse[] = [];
    ics.shutdown.onResponse((r) => responses.push(r));
    let raw: Uint8Array | null = null;
    const recv = g.ch.receive.bind(g.ch);
    g.ch.receive = () => { const p = recv(); if (p && !raw) raw = new Uint8Array(p.payload); return p; };
    assert.equal(ics.shutdown.request('shutdown', 'host maintenance'), true);
    assert.equal(ics.shutdown.state().pending, 1);
    g.pump();
    assert.ok(raw);
    const b: Uint8Array = raw;
    assert.ok(b.length >= IC_BODY + ShutdownMsg.SIZE, `Linux ignores shorter: ${b.length}`);
    assert.equal(readU32(b, IC_BODY + ShutdownMsg.reasonCode), 0x8000_0000);
    assert.equal(readU32(b, IC_BODY + ShutdownMsg.flags), 0);
    assert.equal(Buffer.from(b.subarray(IC_BODY + 12, IC_BODY + 12 + 32)).toString('utf16le'), 'host maintenance');
    assert.equal(ics.shutdown.request('reboot'), true);
    assert.equal(ics.shutdown.request('shutdown', '', { force: true }), true);
    assert.equal(ics.shutdown.request('reboot', '', { force: true }), true);
    g.pump();
    assert.deepEqual(g.log.shutdowns.map((s) => s.flags), [0, 2, 1, 3]);
    assert.deepEqual(responses.map((r) => `${r.kind}:${r.accepted}`), ['shutdown:true', 'reboot:true', 'shutdown:true', 'reboot:true']);
    assert.equal(ics.shutdown.state().pending, 0);
    assert.deepEqual(ics.shutdown.state().lastResponse, { kind: 'reboot', status: 0, accepted: true });
  });

  it('reports a refusal with the guest status', () => {
    const { ics, open } = icBed();
    const g = open('shutdown');
    g.pump();
    g.shutdownStatus = HV_E_FAIL;
    ics.shutdown.request('shutdown');
    g.pump();
    assert.deepEqual(ics.shutdown.state().lastResponse, { kind: 'shutdown', status: HV_E_FAIL, accepted: false });
  });

  it('cuts a display message to the 2048-byte field', () => {
    const { ics, open } = icBed();
    const g = open('shutdown');
    g.pump();
    assert.equal(ics.shutdown.request('shutdown', 'x'.repeat(5000)), true);
    g.pump();
    assert.equal(g.log.shutdowns.length, 1);
  });
});

describe('time sync IC', () => {
  it('converts Unix ms to FILETIME (100 ns since 1601) exactly', () => {
    assert.equal(unixMsToFiletime(0), FILETIME_UNIX_EPOCH);
    assert.equal(unixMsToFiletime(Date.UTC(2000, 0, 1)), 125_911_584_000_000_000n);
    assert.equal(unixMsToFiletime(1.2345), FILETIME_UNIX_EPOCH + 12_345n);
  });

  it('4.0: SYNC with the host time and the guest reference time on negotiation, then SAMPLEs, and sync() on demand', async () => {
    let now = Date.UTC(2026, 10, 26, 18, 0, 0) + 0.5;
    let ref = 123_456_789;
    const { ics, open } = icBed({ timesync: { samplePeriodMs: 10, now: () => now, referenceTime: () => ref } });
    const g = open('timesync');
    g.pump();
    assert.equal(ics.timesync.state().version, '4.0');
    g.pump();
    assert.deepEqual(g.log.timeSamples[0], { parentTime: unixMsToFiletime(now), referenceTime: 123_456_789n, flags: TimesyncFlag.SYNC });
    now += 1000; ref += 10_000_000;
    await pumpUntil([g], () => g.log.timeSamples.length >= 2, 2000, 'a sample');
    assert.deepEqual(g.log.timeSamples[1], { parentTime: unixMsToFiletime(now), referenceTime: BigInt(ref), flags: TimesyncFlag.SAMPLE });
    const n = g.log.timeSamples.length;
    assert.equal(ics.timesync.sync(), true);
    g.pump();
    assert.equal(g.log.timeSamples[n].flags, TimesyncFlag.SYNC);
    const st = ics.timesync.state();
    assert.equal(st.negotiated, true);
    assert.ok(st.answered >= n + 1 && st.samplesSent >= st.answered);
  });

  it('sends a new SYNC when the guest reference time drifts from the wall clock by more than maxDriftMs, either way', async () => {
    let now = 1_700_000_000_000;
    let ref = 5_000_000;
    const { ics, open } = icBed({ timesync: { samplePeriodMs: 60_000, checkPeriodMs: 5, maxDriftMs: 50, now: () => now, referenceTime: () => ref } });
    const g = open('timesync');
    await pumpUntil([g], () => g.log.timeSamples.length === 1, 2000, 'the first SYNC');
    // Virtual time fast-forwarded: 10 s of reference time in 1 s of wall time. The guest's clock is 9 s ahead.
    now += 1000; ref += 100_000_000;
    await pumpUntil([g], () => g.log.timeSamples.length === 2, 2000, 'a resync');
    assert.deepEqual(g.log.timeSamples[1], { parentTime: unixMsToFiletime(now), referenceTime: BigInt(ref), flags: TimesyncFlag.SYNC });
    assert.equal(ics.timesync.state().syncs, 2);
    // Within the bound (40 ms slow): no SYNC, and no SAMPLE before samplePeriodMs.
    now += 1000; ref += 9_600_000;
    await sleep(30);
    g.pump();
    assert.equal(g.log.timeSamples.length, 2);
    assert.equal(Math.round(ics.timesync.state().lastDriftMs!), -40);
    // A busy guest whose virtual time fell 2 s behind.
    now += 3000; ref += 10_000_000;
    await pumpUntil([g], () => g.log.timeSamples.length === 3, 2000, 'a resync');
    assert.equal(g.log.timeSamples[2].flags, TimesyncFlag.SYNC);
  });

  it('3.0 (no reference clock): ictimesync_data with flags at byte 24, host time from the wall clock by default', () => {
    const { ics, open } = icBed();
    const g = open('timesync');
    g.pump();
    g.pump();
    assert.equal(ics.timesync.state().version, '3.0');
    const s = g.log.timeSamples[0];
    assert.equal(s.flags, TimesyncFlag.SYNC);
    const hostMs = Number((s.parentTime - FILETIME_UNIX_EPOCH) / 10_000n);
    assert.ok(Math.abs(hostMs - Date.now()) < 1000, `host time ${new Date(hostMs).toISOString()}`);
    assert.equal(ics.timesync.sync(), true);
  });

  it('sync() is false before negotiation', () => {
    const { ics } = icBed();
    assert.equal(ics.timesync.sync(), false);
  });
});
