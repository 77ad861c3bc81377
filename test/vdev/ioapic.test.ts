// The I/O APIC against the 82093AA datasheet (and the version-0x20 EOI register): registers through
// IOREGSEL/IOWIN, redirection entries (mask, trigger mode, polarity, read-only Remote IRR and delivery status),
// edge and level inputs, the Remote IRR handshake with EOI, and COM1's interrupt line (THRE and received data)
// wired to pin 4 as the worker wires it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IoApic, Uart16550 } from '../../src/vdev/index.js';

interface Sent { vector: number; mode: number; dest: number; logical: boolean; level: boolean }

function make(): { io: IoApic; sent: Sent[]; rd: (reg: number) => number; wr: (reg: number, v: number) => void } {
  const sent: Sent[] = [];
  const io = new IoApic((vector, mode, dest, logical, level) => sent.push({ vector, mode, dest, logical, level }));
  const rd = (reg: number): number => { io.mmioWrite(0x00, 1, reg); return io.mmioRead(0x10, 4) >>> 0; };
  const wr = (reg: number, v: number): void => { io.mmioWrite(0x00, 1, reg); io.mmioWrite(0x10, 4, v); };
  return { io, sent, rd, wr };
}

test('IOAPIC registers: ID, version 0x20 with 24 entries, masked redirection entries after reset', () => {
  const { io, rd, wr } = make();
  assert.equal(rd(0x01), 0x00170020, 'version 0x20, max redirection entry 23');
  wr(0x00, 0x0f000000 | 0xabc);
  assert.equal(rd(0x00), 0x0f000000, 'ID in bits 27:24');
  wr(0x01, 0);
  assert.equal(rd(0x01), 0x00170020, 'version is read-only');
  for (let pin = 0; pin < 24; pin++) {
    assert.equal(rd(0x10 + 2 * pin), 0x10000, `entry ${pin} masked`);
    assert.equal(rd(0x11 + 2 * pin), 0);
  }
  io.mmioWrite(0x00, 1, 0x12);
  assert.equal(io.mmioRead(0x00, 1), 0x12, 'IOREGSEL reads back');
  wr(0x10, 0xffffffff);
  assert.equal(rd(0x10), 0x1afff, 'delivery status (12) and Remote IRR (14) are read-only');
  wr(0x11, 0xffffffff);
  assert.equal(rd(0x11), 0xff000000, 'destination in bits 63:56');
});

test('edge-triggered pin: one message per assertion edge, none while masked (the edge is lost)', () => {
  const { io, sent, wr } = make();
  wr(0x10 + 2 * 4, 0x31);
  wr(0x11 + 2 * 4, 0x01000000);
  io.setLevel(4, true);
  io.setLevel(4, true);
  assert.deepEqual(sent, [{ vector: 0x31, mode: 0, dest: 1, logical: false, level: false }]);
  io.setLevel(4, false);
  io.setLevel(4, true);
  assert.equal(sent.length, 2);
  wr(0x10 + 2 * 4, 0x10031);
  io.setLevel(4, false);
  io.setLevel(4, true);
  wr(0x10 + 2 * 4, 0x31);
  assert.equal(sent.length, 2, 'an edge while masked is lost');
});

test('level-triggered pin: Remote IRR holds further messages until the EOI, then the still-asserted line re-delivers', () => {
  const { io, sent, rd, wr } = make();
  const lo = 0x8000 | 0x800 | 0x45; // level, logical, vector 0x45
  wr(0x10 + 2 * 9, lo);
  io.setLevel(9, true);
  assert.deepEqual(sent, [{ vector: 0x45, mode: 0, dest: 0, logical: true, level: true }]);
  assert.equal(rd(0x10 + 2 * 9) & 0x4000, 0x4000, 'Remote IRR set');
  io.setLevel(9, true);
  assert.equal(sent.length, 1, 'no second message before the EOI');
  io.eoi(0x46);
  assert.equal(sent.length, 1, 'an EOI for another vector changes nothing');
  io.eoi(0x45);
  assert.equal(sent.length, 2, 'still asserted after the EOI: delivered again');
  io.setLevel(9, false);
  io.eoi(0x45);
  assert.equal(rd(0x10 + 2 * 9) & 0x4000, 0, 'Remote IRR clear');
  assert.equal(sent.length, 2, 'deasserted: nothing more');
  // The version-0x20 EOI register at offset 0x40 does the same.
  io.setLevel(9, true);
  assert.equal(sent.length, 3);
  io.setLevel(9, false);
  io.mmioWrite(0x40, 4, 0x45);
  assert.equal(rd(0x10 + 2 * 9) & 0x4000, 0);
});

test('unmasking an asserted level pin delivers; polarity low inverts the line; SMI/INIT/ExtINT are not sent', () => {
  const { io, sent, wr } = make();
  io.setLevel(10, true);
  wr(0x10 + 2 * 10, 0x18050);
  assert.equal(sent.length, 0);
  wr(0x10 + 2 * 10, 0x08050);
  assert.equal(sent.length, 1, 'unmasked while asserted');
  wr(0x10 + 2 * 11, 0xa051); // level, active low: a low line is asserted
  assert.equal(sent.length, 2);
  assert.equal(sent[1].vector, 0x51);
  wr(0x10 + 2 * 12, 0x0752); // ExtINT
  io.setLevel(12, true);
  assert.equal(sent.length, 2);
  wr(0x10 + 2 * 13, 0x0453); // NMI, edge
  io.setLevel(13, true);
  assert.equal(sent[2].mode, 4);
  io.setLevel(99, true); // no such pin: ignored
});

test('COM1 on pin 4: THRE and received-data interrupts follow IER/IIR, gated by OUT2', () => {
  const { io, sent, wr } = make();
  wr(0x10 + 2 * 4, 0x24);
  const uart = new Uart16550(() => {}, (level) => io.setLevel(4, level));
  uart.ioWrite(1, 1, 0x02); // IER: THRE
  assert.equal(sent.length, 0, 'OUT2 clear: the line stays low');
  uart.ioWrite(4, 1, 0x08); // MCR: OUT2
  assert.equal(sent.length, 1, 'THR empty with THRE enabled: interrupt');
  assert.equal(uart.ioRead(2, 1) & 0x0f, 0x02, 'IIR: THR empty');
  assert.equal(uart.ioRead(2, 1) & 0x0f, 0x01, 'reading IIR acknowledged THRE');
  uart.ioWrite(0, 1, 0x41); // transmit: THR empties again at once
  assert.equal(sent.length, 2, 'a new THRE interrupt after each transmitted byte');
  uart.ioWrite(1, 1, 0x01); // IER: received data only
  uart.ioRead(2, 1);
  uart.receive([0x61, 0x62]);
  assert.equal(sent.length, 3, 'received data raises the line');
  assert.equal(uart.ioRead(2, 1) & 0x0f, 0x04, 'IIR: received data available');
  assert.equal(uart.ioRead(0, 1), 0x61);
  assert.equal(uart.ioRead(0, 1), 0x62);
  assert.equal(uart.ioRead(2, 1) & 0x0f, 0x01, 'FIFO drained: no interrupt pending');
  uart.receive([0x63]);
  assert.equal(sent.length, 4, 'the next byte is a new edge');
});
