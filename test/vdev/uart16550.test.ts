// The 16550A register model as a driver sees it (register semantics from the National PC16550D data sheet).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DebugExit, PortBus, Uart16550 } from '../../src/vdev/index.js';

const THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

test('transmit, divisor latch, scratch, line status', () => {
  const out: number[] = [];
  const u = new Uart16550((b) => out.push(b));
  assert.equal(u.ioRead(LSR, 1) & 0x60, 0x60, 'THRE and TEMT: a polling guest may send at once');
  u.ioWrite(LCR, 1, 0x80); // DLAB
  u.ioWrite(0, 1, 0x0c); u.ioWrite(1, 1, 0x00); // 9600 baud
  assert.equal(u.ioRead(0, 1), 0x0c);
  assert.equal(u.divisor, 12);
  u.ioWrite(LCR, 1, 0x03);
  assert.equal(u.ioRead(LCR, 1), 0x03);
  u.ioWrite(THR, 1, 0x41);
  u.ioWrite(THR, 1, 0x142); // only the low byte goes out
  assert.deepEqual(out, [0x41, 0x42]);
  assert.equal(u.divisor, 12, 'data writes with DLAB clear leave the divisor alone');
  u.ioWrite(SCR, 1, 0x5a);
  assert.equal(u.ioRead(SCR, 1), 0x5a);
  assert.equal(u.ioRead(MSR, 1) & 0xb0, 0xb0, 'CTS, DSR, DCD asserted');
});

test('receive FIFO, data ready, overrun, loopback', () => {
  const out: number[] = [];
  const u = new Uart16550((b) => out.push(b));
  assert.equal(u.ioRead(LSR, 1) & 1, 0);
  assert.equal(u.receive([0x61, 0x62]), 2);
  assert.equal(u.ioRead(LSR, 1) & 1, 1, 'DR');
  assert.equal(u.ioRead(0, 1), 0x61);
  assert.equal(u.ioRead(0, 1), 0x62);
  assert.equal(u.ioRead(LSR, 1) & 1, 0);
  assert.equal(u.receive(new Array(20).fill(0x30)), 16, 'a 16-byte FIFO');
  assert.equal(u.ioRead(LSR, 1) & 2, 2, 'overrun error');
  assert.equal(u.ioRead(LSR, 1) & 2, 0, 'error bits clear on read');
  u.ioWrite(FCR, 1, 0x07); // enable and clear FIFOs
  assert.equal(u.ioRead(LSR, 1) & 1, 0);
  assert.equal(u.ioRead(IIR, 1) & 0xc0, 0xc0, 'FIFOs enabled shows in IIR');
  u.ioWrite(MCR, 1, 0x10); // loopback
  u.ioWrite(THR, 1, 0x7e);
  assert.deepEqual(out, [], 'loopback keeps bytes inside');
  assert.equal(u.ioRead(0, 1), 0x7e);
});

test('interrupt identification and the IRQ line', () => {
  const levels: boolean[] = [];
  const u = new Uart16550(() => {}, (l) => levels.push(l));
  assert.equal(u.ioRead(IIR, 1) & 0x0f, 0x01, 'no interrupt pending');
  u.ioWrite(MCR, 1, 0x08); // OUT2 gates the line
  u.ioWrite(IER, 1, 0x02); // THRE interrupt: THR is empty, so it is pending now
  assert.equal(u.ioRead(IIR, 1) & 0x0f, 0x02);
  assert.equal(u.ioRead(IIR, 1) & 0x0f, 0x01, 'reading IIR acknowledged THRE');
  u.ioWrite(IER, 1, 0x03);
  u.receive([1]);
  assert.equal(u.ioRead(IIR, 1) & 0x0f, 0x04, 'received data outranks THRE');
  u.ioRead(0, 1);
  assert.deepEqual(levels, [true, false, true, false]);
});

test('isa-debug-exit: status (v << 1) | 1, once', () => {
  const codes: number[] = [];
  const d = new DebugExit((c) => codes.push(c));
  d.ioWrite(0, 1, 0x10);
  d.ioWrite(0, 1, 0x00);
  assert.deepEqual(codes, [33]);
  assert.equal(d.exitCode, 33);
  const d0 = new DebugExit((c) => codes.push(c));
  d0.ioWrite(0, 1, 0);
  assert.equal(d0.exitCode, 1);
});

test('port bus: claims, conflicts, unclaimed ports read all-ones', () => {
  const bus = new PortBus();
  const out: number[] = [];
  bus.register('com1', 0x3f8, 8, new Uart16550((b) => out.push(b)));
  assert.throws(() => bus.register('clash', 0x3fc, 2, new DebugExit(() => {})), /already claimed by com1/);
  bus.write(0x3f8, 1, 0x48);
  assert.deepEqual(out, [0x48]);
  assert.equal(bus.read(0x2f8, 1), -1);
  assert.equal(bus.ports().length, 8);
});
