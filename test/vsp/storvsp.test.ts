// storvsp over the real VMBus channel server, driven by the TypeScript guest bus client the way Linux 6.1's
// storvsc drives it (drivers/scsi/storvsc_drv.c): the init handshake with its transaction id, version
// negotiation, properties, EXECUTE_SRB in-band and GPA-direct (one range over guest pages, starting mid-page),
// COMPLETE_IO packets of exactly 64 bytes with SRB status, SCSI status, transfer length and autosense, several
// disks on one controller, a read-only disk, an absent LUN, hostile requests, and a full completion ring.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createDisk, openDisk, type Disk } from '../../src/storage/index.js';
import {
  createLoopbackBus, PACKET_FLAG_COMPLETION_REQUESTED, PACKET_TYPE_COMP, PAGE_SIZE, type GuestChannel, type LoopbackBus,
  type ReceivedPacket,
} from '../../src/vmbus/index.js';
import { MAX_PENDING_COMPLETIONS, Storvsp, STORVSC_CLASS_ID } from '../../src/vsp/storvsp/index.js';
import { MiB, removeDir, Rng, scratchDir } from '../storage/helpers.js';

const INIT_LO = 0xfffffffd, INIT_HI = 0xffffffff;
const OP_COMPLETE_IO = 1, OP_EXECUTE_SRB = 3, OP_BEGIN = 7, OP_END = 8, OP_VERSION = 9, OP_PROPERTIES = 10;

function u32(b: Uint8Array, at: number): number { return new DataView(b.buffer, b.byteOffset).getUint32(at, true); }

function vstor(op: number, fill?: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, op, true);
  dv.setUint32(4, 1, true); // REQUEST_COMPLETION_FLAG
  fill?.(dv, b);
  return b;
}

/** An EXECUTE_SRB vstor_packet as storvsc_queuecommand fills it. */
function srb(lun: number, cdb: number[], transfer: number, dataIn: number, path = 0, target = 0): Uint8Array {
  return vstor(OP_EXECUTE_SRB, (dv, b) => {
    dv.setUint16(12, 0x34, true);
    b[17] = path; b[18] = target; b[19] = lun;
    b[20] = cdb.length;
    b[21] = 20; // sense_info_length
    b[22] = dataIn;
    dv.setUint32(24, transfer, true);
    b.set(cdb, 28);
    b[50] = 0xff; b[51] = 0x20;
    dv.setUint32(52, 0x8 | (dataIn === 1 ? 0x40 : dataIn === 0 ? 0x80 : 0), true);
    dv.setUint32(56, 60, true);
  });
}

interface Completion { srbStatus: number; scsiStatus: number; transferred: number; senseLength: number; sense: Uint8Array; status: number }

function completion(p: ReceivedPacket, lo: number, hi = 0): Completion {
  assert.equal(p.type, PACKET_TYPE_COMP);
  assert.deepEqual([p.transIdLo, p.transIdHi], [lo, hi], 'trans_id echoed');
  assert.equal(p.payload.length, 64, 'a vstor_packet of 64 bytes: 80 with the descriptor, storvsc\'s max_pkt_size');
  assert.equal(u32(p.payload, 0), OP_COMPLETE_IO);
  return {
    status: u32(p.payload, 8), srbStatus: p.payload[14], scsiStatus: p.payload[15], transferred: u32(p.payload, 24),
    senseLength: p.payload[21], sense: p.payload.slice(28, 48),
  };
}

let dir: string;
let disks: Disk[];

before(() => {
  dir = scratchDir('storvsp');
  createDisk(join(dir, 'ro.img'), { format: 'raw', size: 4 * MiB }).close();
  disks = [
    createDisk(join(dir, 'a.vhdx'), { format: 'vhdx', size: 32 * MiB }),
    createDisk(join(dir, 'b.vhdx'), { format: 'vhdx', size: 48 * MiB, logicalSectorSize: 4096 }),
    openDisk(join(dir, 'ro.img'), { readOnly: true }),
  ];
});
after(() => {
  for (const d of disks ?? []) d.close();
  removeDir(dir);
});

function setup(opts: { recvPages?: number } = {}): { bus: LoopbackBus; vsp: Storvsp; ch: GuestChannel; log: string[] } {
  const log: string[] = [];
  const vsp = new Storvsp({ disks: disks.map((disk) => ({ disk })), instanceId: 'a5e3b1f0-0000-4000-8000-00000000c0de', log: (l) => log.push(l) });
  const bus = createLoopbackBus({ ramPages: 4096 });
  bus.server.addVsp(vsp);
  bus.client.connect();
  bus.client.requestOffers();
  const offer = bus.client.offerOf(STORVSC_CLASS_ID);
  const ch = bus.client.openChannel(offer.childRelid, { sendPages: 32, recvPages: opts.recvPages ?? 32 });
  return { bus, vsp, ch, log };
}

/** storvsc_channel_init: BEGIN, QUERY_PROTOCOL_VERSION (0x0602), QUERY_PROPERTIES, END; every answer checked. */
function initialize(ch: GuestChannel): Uint8Array {
  const step = (pkt: Uint8Array): Completion & { payload: Uint8Array } => {
    ch.send(pkt, { flags: PACKET_FLAG_COMPLETION_REQUESTED, transIdLo: INIT_LO, transIdHi: INIT_HI });
    const p = ch.receive();
    assert.ok(p, 'an answer at once');
    return { ...completion(p, INIT_LO, INIT_HI), payload: p.payload };
  };
  assert.equal(step(vstor(OP_BEGIN)).status, 0);
  const v = step(vstor(OP_VERSION, (dv) => dv.setUint16(12, 0x0602, true)));
  assert.equal(v.status, 0, 'Win10 protocol (6.2) accepted');
  const props = step(vstor(OP_PROPERTIES));
  assert.equal(props.status, 0);
  assert.equal(step(vstor(OP_END)).status, 0);
  return props.payload;
}

let nextId = 1;
function execute(ch: GuestChannel, pkt: Uint8Array, buffer?: { pfns: number[]; offset: number; length: number }): Completion {
  const id = nextId++;
  if (buffer) ch.sendGpaDirect([{ byteCount: buffer.length, byteOffset: buffer.offset, pfns: buffer.pfns }], pkt, { flags: PACKET_FLAG_COMPLETION_REQUESTED, transIdLo: id, transIdHi: 0x8000_0000 });
  else ch.send(pkt, { flags: PACKET_FLAG_COMPLETION_REQUESTED, transIdLo: id, transIdHi: 0x8000_0000 });
  const p = ch.receive();
  assert.ok(p, 'a completion at once');
  return completion(p, id, 0x8000_0000);
}

/** Guest memory for a buffer of `length` bytes starting `offset` into its first page. */
function guestBuffer(bus: LoopbackBus, offset: number, length: number): { pfns: number[]; offset: number; length: number; bytes: () => Uint8Array; fill: (b: Uint8Array) => void } {
  const pfns = bus.ram.alloc(Math.ceil((offset + length) / PAGE_SIZE));
  const base = (pfns[0] - bus.ram.firstPfn) * PAGE_SIZE + offset;
  return {
    pfns, offset, length,
    bytes: () => bus.ram.bytes.slice(base, base + length),
    fill: (b) => bus.ram.bytes.set(b, base),
  };
}

describe('storvsp over the VMBus server, as storvsc drives it', () => {
  it('offers the storvsc class; the init handshake answers with COMPLETE_IO, status 0, max_transfer_bytes 256 KiB, no sub-channels', () => {
    const { ch, vsp } = setup();
    const props = initialize(ch);
    assert.equal(new DataView(props.buffer).getUint16(16, true), 0, 'max_channel_cnt');
    assert.equal(u32(props, 20) & 1, 0, 'multi-channel flag clear');
    assert.equal(u32(props, 24), 0x40000, 'max_transfer_bytes');
    assert.equal((vsp.inspect() as { state: string; version: string }).state, 'ready');
    assert.equal((vsp.inspect() as { version: string }).version, '6.2');
  });

  it('refuses a version it does not speak (REVISION_MISMATCH) and accepts the next; SRBs before END_INITIALIZATION are refused', () => {
    const { ch } = setup();
    const send = (pkt: Uint8Array): Completion => {
      ch.send(pkt, { flags: 1, transIdLo: INIT_LO, transIdHi: INIT_HI });
      return completion(ch.receive()!, INIT_LO, INIT_HI);
    };
    assert.notEqual(send(srb(0, [0, 0, 0, 0, 0, 0], 0, 2)).status, 0, 'EXECUTE_SRB before init');
    assert.equal(send(vstor(OP_BEGIN)).status, 0);
    assert.equal(send(vstor(OP_VERSION, (dv) => dv.setUint16(12, 0x0402, true))).status, 0xc0000059);
    assert.equal(send(vstor(OP_VERSION, (dv) => dv.setUint16(12, 0x0501, true))).status, 0);
    assert.notEqual(send(vstor(OP_END)).status, 0, 'END before QUERY_PROPERTIES');
    assert.equal(send(vstor(OP_PROPERTIES)).status, 0);
    assert.equal(send(vstor(OP_END)).status, 0);
  });

  it('INQUIRY and READ CAPACITY(16) through GPA-direct buffers land in guest memory; each LUN reports its own size', () => {
    const { bus, ch } = setup();
    initialize(ch);
    const inq = guestBuffer(bus, 100, 36);
    let c = execute(ch, srb(0, [0x12, 0, 0, 0, 36, 0], 36, 1), inq);
    assert.deepEqual([c.srbStatus, c.scsiStatus, c.transferred], [1, 0, 36]);
    assert.equal(Buffer.from(inq.bytes().subarray(8, 28)).toString('latin1'), 'Msft    Virtual Disk');
    for (const [lun, blocks, bs] of [[0, 32 * MiB / 512, 512], [1, 48 * MiB / 4096, 4096], [2, 4 * MiB / 512, 512]]) {
      const cap = guestBuffer(bus, 4000, 32); // spans two pages
      c = execute(ch, srb(lun, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 32, 1), cap);
      assert.deepEqual([c.srbStatus, c.transferred], [1, 32]);
      const dv = new DataView(cap.bytes().buffer);
      assert.equal(Number(dv.getBigUint64(0)) + 1, blocks, `LUN ${lun} blocks`);
      assert.equal(dv.getUint32(8), bs, `LUN ${lun} block size`);
    }
  });

  it('WRITE(10) from a buffer starting mid-page reaches the disk; READ(10) brings it back into other guest pages', () => {
    const { bus, ch } = setup();
    initialize(ch);
    const data = new Uint8Array(64 * 1024);
    new Rng(5).fill(data);
    const src = guestBuffer(bus, 512, data.length);
    src.fill(data);
    let c = execute(ch, srb(0, [0x2a, 0, 0, 0, 0x10, 0, 0, 0, 128, 0], data.length, 0), src);
    assert.deepEqual([c.srbStatus, c.scsiStatus, c.transferred], [1, 0, data.length]);
    const onDisk = new Uint8Array(data.length);
    disks[0].read(0x1000 * 512, onDisk);
    assert.deepEqual(onDisk, data);
    const dst = guestBuffer(bus, 0, data.length);
    c = execute(ch, srb(0, [0x28, 0, 0, 0, 0x10, 0, 0, 0, 128, 0], data.length, 1), dst);
    assert.deepEqual([c.srbStatus, c.transferred], [1, data.length]);
    assert.deepEqual(dst.bytes(), data);
  });

  it('errors carry autosense: DATA PROTECT on the read-only LUN (0x84), INVALID LUN on an absent one (0xA0), PQ 3 INQUIRY elsewhere', () => {
    const { bus, ch } = setup();
    initialize(ch);
    const buf = guestBuffer(bus, 0, 512);
    let c = execute(ch, srb(2, [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], 512, 0), buf);
    assert.deepEqual([c.srbStatus, c.scsiStatus, c.senseLength, c.transferred], [0x84, 2, 18, 0]);
    assert.deepEqual([c.sense[0], c.sense[2], c.sense[12], c.sense[13]], [0x70, 0x07, 0x27, 0x00]);
    c = execute(ch, srb(5, [0, 0, 0, 0, 0, 0], 0, 2));
    assert.deepEqual([c.srbStatus, c.scsiStatus, c.sense[2], c.sense[12]], [0xa0, 2, 0x05, 0x25]);
    const inq = guestBuffer(bus, 0, 36);
    c = execute(ch, srb(0, [0x12, 0, 0, 0, 36, 0], 36, 1, 1, 0), inq);
    assert.deepEqual([c.srbStatus, c.transferred, inq.bytes()[0]], [1, 36, 0x7f]);
    c = execute(ch, srb(0, [0x00, 0, 0, 0, 0, 0], 0, 2));
    assert.deepEqual([c.srbStatus, c.scsiStatus, c.senseLength], [1, 0, 0], 'TEST UNIT READY: SUCCESS, no sense');
  });

  it('hostile requests are answered INVALID_REQUEST or DATA_OVERRUN, never thrown: bad cdb_length, transfer beyond the range or without one, short packets; pages outside RAM never reach storvsp', () => {
    const { bus, ch, log, vsp } = setup();
    initialize(ch);
    const buf = guestBuffer(bus, 0, 512);
    let c = execute(ch, srb(0, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], 512, 1), buf);
    assert.equal(c.srbStatus, 1);
    const bad = srb(0, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], 512, 1);
    bad[20] = 17;
    assert.equal(execute(ch, bad, buf).srbStatus, 0x06);
    bad[20] = 0;
    assert.equal(execute(ch, bad, buf).srbStatus, 0x06);
    assert.equal(execute(ch, srb(0, [0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0], 1024, 1), buf).srbStatus, 0x06, 'transfer larger than the range');
    assert.equal(execute(ch, srb(0, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], 512, 1)).srbStatus, 0x06, 'data without GPA-direct ranges');
    // A page outside RAM: the server refuses the packet before storvsp sees it.
    ch.sendGpaDirect([{ byteCount: 512, byteOffset: 0, pfns: [0x7_0000] }], srb(0, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], 512, 1), { flags: 1, transIdLo: 999 });
    assert.equal(ch.receive(), null);
    assert.ok(bus.log.some((l) => /outside RAM/.test(l)), bus.log.join('\n'));
    c = execute(ch, srb(0, [0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0], 512, 1), buf);
    assert.equal(c.srbStatus, 0x12, 'the command needs more than the buffer: DATA_OVERRUN');
    ch.send(new Uint8Array(40), { flags: 1, transIdLo: 77 });
    assert.equal(ch.receive(), null, 'a packet shorter than a vstor_packet is dropped');
    assert.equal(log.length, 5, log.join('\n'));
    assert.equal((vsp.inspect() as { refused: number }).refused, 5);
    // And the controller still works.
    assert.equal(execute(ch, srb(0, [0, 0, 0, 0, 0, 0], 0, 2)).srbStatus, 1);
  });

  it('completions the full ring cannot take wait, in order, and go out as the guest drains it', () => {
    const { ch, vsp } = setup({ recvPages: 2 }); // 4 KiB of ring: ~50 completions of 80 bytes
    initialize(ch);
    const n = 200;
    for (let i = 0; i < n; i++) ch.send(srb(0, [0, 0, 0, 0, 0, 0], 0, 2), { flags: 1, transIdLo: 1000 + i });
    assert.ok((vsp.inspect() as { pendingCompletions: number }).pendingCompletions > 0, 'the ring filled');
    const got: number[] = [];
    for (let spins = 0; got.length < n && spins < 10_000; spins++) {
      const p = ch.receive();
      if (p) got.push(completion(p, p.transIdLo).srbStatus === 1 ? p.transIdLo : -1);
    }
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => 1000 + i));
  });

  it('a guest that never reads its completions cannot make the host hold more than MAX_PENDING_COMPLETIONS', () => {
    const { ch, vsp, log } = setup({ recvPages: 2 });
    initialize(ch);
    const sent = MAX_PENDING_COMPLETIONS + 500;
    for (let i = 0; i < sent; i++) ch.send(srb(0, [0, 0, 0, 0, 0, 0], 0, 2), { flags: 1, transIdLo: i });
    const info = vsp.inspect() as { pendingCompletions: number; refused: number; srbs: number };
    assert.equal(info.pendingCompletions, MAX_PENDING_COMPLETIONS);
    assert.ok(info.refused > 0 && info.srbs + info.refused === sent, `${info.srbs} executed + ${info.refused} refused = ${sent}`);
    assert.match(log[0], /completions wait for the guest/);
    // Draining delivers every executed request's completion, in order.
    let n = 0;
    for (let p = ch.receive(); p !== null; p = ch.receive()) assert.equal(p.transIdLo, n++);
    assert.equal(n, info.srbs);
  });

  it('fuzz: 20000 random vstor packets (random operations, SRB fields, CDBs, transfer lengths and page ranges) never throw; every completion is 64 bytes; the controller still works', () => {
    const { bus, ch, vsp } = setup({ recvPages: 64 });
    initialize(ch);
    const rng = new Rng(0x5eed);
    const pages = bus.ram.alloc(70);
    const opcodes = [0x00, 0x03, 0x08, 0x0a, 0x12, 0x1a, 0x25, 0x28, 0x2a, 0x2f, 0x35, 0x41, 0x42, 0x5a, 0x88, 0x8a, 0x91, 0x93, 0x9e, 0xa0, 0xa8];
    let completions = 0;
    for (let i = 0; i < 20000; i++) {
      const pkt = new Uint8Array(64 + (rng.int(4) === 0 ? rng.int(64) : 0));
      rng.fill(pkt);
      if (rng.int(4) !== 0) { // mostly well-formed enough to reach the SCSI target
        pkt.set([3, 0, 0, 0], 0);
        pkt[17] = rng.int(3) === 0 ? rng.int(8) : 0; pkt[18] = rng.int(4) === 0 ? 1 : 0; pkt[19] = rng.int(5);
        pkt[20] = 1 + rng.int(16);
        pkt[28] = opcodes[rng.int(opcodes.length)];
        if (rng.int(2) === 0) { pkt[24] = 0; pkt[25] = rng.int(2) === 0 ? 0 : rng.int(64); pkt[26] = rng.int(5) === 0 ? 1 : 0; pkt[27] = 0; } // transfer 0..320 KiB
      }
      const flags = rng.int(8) === 0 ? 0 : 1;
      if (rng.int(3) === 0) {
        ch.send(pkt, { flags, transIdLo: i });
      } else {
        const first = rng.int(4);
        const n = 1 + rng.int(66);
        ch.sendGpaDirect([{ byteCount: Math.max(1, n * 4096 - rng.int(8192)), byteOffset: rng.int(4096), pfns: pages.slice(first, first + n) }], pkt.subarray(0, 64), { flags, transIdLo: i });
      }
      for (let p = ch.receive(); p !== null; p = ch.receive()) {
        assert.equal(p.payload.length, 64);
        assert.equal(u32(p.payload, 0), OP_COMPLETE_IO);
        completions++;
      }
    }
    const channel = (bus.server.inspect() as { channels: { state: string }[] }).channels[0];
    assert.equal(channel.state, 'open', 'storvsp never threw (a throwing VSP fails its channel)');
    assert.ok(completions > 10000, `${completions} completions`);
    assert.ok((vsp.inspect() as { srbs: number }).srbs > 5000);
    assert.equal(execute(ch, srb(0, [0, 0, 0, 0, 0, 0], 0, 2)).srbStatus, 1);
  });

  it('a closed and reopened channel needs the handshake again', () => {
    const { bus, ch } = setup();
    initialize(ch);
    ch.close();
    bus.client.collect();
    const relid = bus.client.offerOf(STORVSC_CLASS_ID).childRelid;
    const again = bus.client.openChannel(relid, { sendPages: 8, recvPages: 8 });
    again.send(srb(0, [0, 0, 0, 0, 0, 0], 0, 2), { flags: 1, transIdLo: 5 });
    assert.equal(completion(again.receive()!, 5).status, 0xc0000184, 'INVALID_DEVICE_STATE before init');
    initialize(again);
  });
});
