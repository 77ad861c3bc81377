// A guest controls every index and descriptor in its rings. Each malformed case must come back as its typed
// RingStatus without consuming anything, and random bytes in the control page and data area must never raise an
// exception or touch memory outside the ring's pages (guard pages around them must stay intact).
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  RING_INTERRUPT_MASK, RING_PENDING_SEND_SZ, RING_FEATURE_BITS, RING_READ_INDEX, RING_WRITE_INDEX, RingReader,
  RingStatus, RingWriter, type RingMemory,
} from '../../src/vmbus/index.js';
import { makeChannel } from './helpers.js';

const p8 = new Uint8Array(64);

/** Random bytes, except a descriptor whose offset8 is 2 and len8 matches `len`, so the packet is sound. */
function junk(rnd: () => number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = rnd() & 0xff;
  if (len >= 16) { b[2] = 2; b[3] = 0; b[4] = (len >>> 3) & 0xff; b[5] = len >>> 11; }
  return b;
}

/** A guest -> host ring holding one sound in-band packet (24 bytes + trailer) at offset `at`, and a host reader. */
function onePacketAt(at = 0): { mem: RingMemory; r: RingReader; data: DataView; ch: ReturnType<typeof makeChannel> } {
  const ch = makeChannel(2, 2);
  const mem = ch.mem.guestToHost;
  mem.store(RING_WRITE_INDEX, at);
  mem.store(RING_READ_INDEX, at);
  assert.equal(new RingWriter(mem).writePacket(6, 0, 0, 0, p8, 0, 8), RingStatus.OkSignal);
  const data = new DataView(ch.ram.buffer, ch.pageAt(1));
  return { mem, r: new RingReader(mem), data, ch };
}

function refuses(r: RingReader, mem: RingMemory, want: RingStatus): void {
  const before = mem.load(RING_READ_INDEX);
  const out = new Uint8Array(4096);
  assert.equal(r.readPacket(out), want);
  assert.equal(r.readPacket(out), want, 'the same refusal again: nothing was consumed');
  r.commit();
  assert.equal(mem.load(RING_READ_INDEX), before);
}

describe('vmbus ring: hostile guest input', () => {
  it('write_index beyond the data area or misaligned', () => {
    for (const w of [4096, 4104, 0xfffffff8, 12, 3]) {
      const { mem, r } = onePacketAt();
      mem.store(RING_WRITE_INDEX, w);
      refuses(r, mem, RingStatus.BadWriteIndex);
      assert.equal(r.available(), 0);
    }
  });

  it('read_index misaligned or out of range: the writer refuses to compute free space from it', () => {
    for (const rd of [4, 4096, 0x80000000]) {
      const ch = makeChannel(2, 2);
      const mem = ch.mem.hostToGuest;
      mem.store(RING_READ_INDEX, rd);
      assert.equal(ch.host.outgoing.writePacket(6, 0, 0, 0, p8, 0, 8), RingStatus.BadReadIndex);
      assert.equal(mem.load(RING_WRITE_INDEX), 0, 'nothing published');
      assert.equal(ch.host.outgoing.waitForSpace(16), false);
      assert.equal(new RingReader(mem).status, RingStatus.BadReadIndex, 'a reader refuses a corrupt starting index');
      mem.store(RING_WRITE_INDEX, rd);
      assert.equal(new RingWriter(mem).status, RingStatus.BadWriteIndex);
    }
  });

  it('a descriptor claiming more than has been written', () => {
    const { mem, r, data } = onePacketAt();
    data.setUint16(4, 4, true); // len8 = 4: 32 bytes + 8 trailer > 32 available
    refuses(r, mem, RingStatus.Truncated);
    data.setUint16(4, 0xffff, true);
    refuses(r, mem, RingStatus.Truncated);
  });

  it('offset8 past len8, or inside the descriptor', () => {
    const { mem, r, data } = onePacketAt();
    data.setUint16(2, 4, true); // 32 > 24
    refuses(r, mem, RingStatus.BadOffset);
    data.setUint16(2, 1, true);
    refuses(r, mem, RingStatus.BadOffset);
    data.setUint16(2, 3, true); // == len8: a packet with an empty payload is sound
    assert.equal(r.readPacket(new Uint8Array(64)), 24);
  });

  it('zero or descriptor-less lengths', () => {
    const { mem, r, data } = onePacketAt();
    data.setUint16(4, 0, true);
    refuses(r, mem, RingStatus.BadLength);
    data.setUint16(4, 1, true);
    refuses(r, mem, RingStatus.BadLength);
  });

  it('fewer bytes published than a descriptor and trailer', () => {
    const { mem, r } = onePacketAt();
    mem.store(RING_WRITE_INDEX, 16);
    refuses(r, mem, RingStatus.Truncated);
  });

  it('a packet larger than the channel accepts', () => {
    const { mem, r } = onePacketAt(4088); // also wraps
    const out = new Uint8Array(16);
    assert.equal(r.readPacket(out), RingStatus.TooLarge);
    assert.equal(mem.load(RING_READ_INDEX), 4088);
    assert.equal(r.readPacket(new Uint8Array(24)), 24);
  });

  it('the writer refuses packets that are malformed or could never fit', () => {
    const ch = makeChannel(2, 2);
    const w = ch.host.outgoing;
    const big = new Uint8Array(8192);
    assert.equal(w.writeRaw(big, 12), RingStatus.BadPacket, 'smaller than a descriptor');
    assert.equal(w.writeRaw(big, 20), RingStatus.BadPacket, 'not a multiple of 8');
    assert.equal(w.writeRaw(big, 4088), RingStatus.BadPacket, 'larger than the ring');
    assert.equal(w.writeRaw(big, 9000), RingStatus.BadPacket, 'longer than the buffer given');
    assert.equal(w.writePacket(6, 0, 0, 0, p8, 60, 8), RingStatus.BadPacket, 'payload range past the buffer');
    assert.equal(ch.mem.hostToGuest.load(RING_WRITE_INDEX), 0);
  });

  it('a guest rewriting the host\'s own published index does not steer the host', () => {
    const ch = makeChannel(2, 2);
    const out = new Uint8Array(4096);
    // Host writer: its write index stays private; the guest's scribble is simply overwritten at the next publish.
    const h2g = ch.mem.hostToGuest;
    assert.equal(ch.host.outgoing.writePacket(6, 0, 0, 0, p8, 0, 8), RingStatus.OkSignal);
    h2g.store(RING_WRITE_INDEX, 1000);
    assert.equal(ch.host.outgoing.writePacket(6, 0, 0, 0, p8, 0, 8), RingStatus.Ok);
    assert.equal(h2g.load(RING_WRITE_INDEX), 64);
    // Host reader: same for its read index.
    const g2h = ch.mem.guestToHost;
    ch.guest.outgoing.writePacket(6, 0, 1, 0, p8, 0, 8);
    ch.guest.outgoing.writePacket(6, 0, 2, 0, p8, 0, 8);
    assert.equal(ch.host.incoming.readPacket(out), 24);
    ch.host.incoming.commit();
    g2h.store(RING_READ_INDEX, 3000);
    assert.equal(ch.host.incoming.readPacket(out), 24);
    assert.equal(out[8], 2, 'the second packet, from the private index');
    ch.host.incoming.commit();
    assert.equal(g2h.load(RING_READ_INDEX), 64);
    ch.checkGuards();
  });

  it('random control pages and data never throw nor reach outside the ring', () => {
    let seed = 0x12345678;
    const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed; };
    const ch = makeChannel(2, 3);
    const out = new Uint8Array(2048);
    const statuses = new Map<number, number>();
    for (let iter = 0; iter < 3000; iter++) {
      for (const mem of [ch.mem.guestToHost, ch.mem.hostToGuest]) {
        // Start from sound traffic (a few packets at a random place), then damage one thing the guest controls.
        const at = (rnd() % mem.dataSize) & ~7;
        mem.store(RING_WRITE_INDEX, at);
        mem.store(RING_READ_INDEX, at);
        const w0 = new RingWriter(mem);
        for (let k = rnd() % 4; k > 0; k--) w0.writeRaw(junk(rnd, 16 + ((rnd() % 3000) & ~7)), 16 + ((rnd() % 3000) & ~7));
        mem.store(RING_INTERRUPT_MASK, rnd() & 1);
        mem.store(RING_PENDING_SEND_SZ, (rnd() & 1) ? rnd() % 9000 : rnd());
        mem.store(RING_FEATURE_BITS, rnd() & 1);
        switch (rnd() % 5) {
          case 0: mem.store(RING_WRITE_INDEX, (rnd() & 1) ? rnd() : (rnd() % mem.dataSize) & ~7); break;
          case 1: mem.store(RING_READ_INDEX, (rnd() & 1) ? rnd() : (rnd() % mem.dataSize) & ~7); break;
          case 2: mem.copyIn((at + (rnd() % 8)) % mem.dataSize, junk(rnd, 2), 0, 2); break; // a descriptor field
          case 3: for (let k = 0; k < 64; k++) mem.copyIn((rnd() % mem.dataSize) & ~1, junk(rnd, 2), 0, 2); break;
          case 4: break;
        }
        const r = new RingReader(mem);
        for (let k = 0; k < 16; k++) {
          const st = r.readPacket(out);
          statuses.set(st < 16 ? st : 16, (statuses.get(st < 16 ? st : 16) ?? 0) + 1);
          if (st >= 16) assert.ok(st % 8 === 0 && st <= out.length);
          else assert.ok(st in RingStatus, `status ${st}`);
          if (st < 0 || st === RingStatus.Empty) break;
        }
        assert.equal(typeof r.commit(), 'boolean');
        const w = new RingWriter(mem);
        const ws = w.writeRaw(out, 16 + ((rnd() % 300) & ~7));
        assert.ok(ws in RingStatus);
        w.waitForSpace(rnd() % 5000);
      }
    }
    ch.checkGuards();
    // The fuzz must have reached both sound packets and each kind of refusal, or it proves little.
    for (const s of [16, RingStatus.Empty, RingStatus.BadWriteIndex, RingStatus.Truncated, RingStatus.BadLength, RingStatus.BadOffset, RingStatus.TooLarge]) {
      assert.ok((statuses.get(s) ?? 0) > 0, `fuzz never produced ${s}: ${[...statuses]}`);
    }
  });
});
