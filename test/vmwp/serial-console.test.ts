// The console's input side without a VM: bytes reach the UART in order through a 16-byte FIFO, a pipe is not
// put in raw mode and its end does not quit, Ctrl-A x quits, and a flood of input pauses the stream until the
// guest has taken most of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SerialConsole } from '../../src/vmwp/serial-console.js';

class FakeInput extends EventEmitter {
  paused = true;
  pauses = 0;
  rawCalls: boolean[] = [];
  constructor(readonly isTTY: boolean) { super(); }
  pause(): this { this.paused = true; this.pauses++; return this; }
  resume(): this { this.paused = false; return this; }
  setRawMode(mode: boolean): this { this.rawCalls.push(mode); return this; }
}

/** Drains the console through a 16-byte FIFO the way the worker does, until nothing is pending. */
function drain(c: SerialConsole, sink: number[]): void {
  for (let guard = 0; c.pending > 0; guard++) {
    assert.ok(guard < 1_000_000, 'feed makes progress');
    const fifo: number[] = [];
    c.feed((bytes) => { const n = Math.min(bytes.length, 16 - fifo.length); for (let i = 0; i < n; i++) fifo.push(bytes[i]); return n; }, 16);
    sink.push(...fifo);
  }
}

test('piped input: no raw mode, bytes in order, end of input does not quit', () => {
  const input = new FakeInput(false);
  let quits = 0;
  const c = new SerialConsole(input, { write: () => undefined }, () => { quits++; });
  c.attach();
  assert.deepEqual(input.rawCalls, [], 'a pipe is not a terminal');
  assert.equal(input.paused, false);
  const sent: number[] = [];
  for (let k = 0; k < 50; k++) {
    const chunk = Buffer.from(`line ${k}: ${'x'.repeat(k * 7)}\n`);
    sent.push(...chunk);
    input.emit('data', chunk);
  }
  input.emit('end');
  const got: number[] = [];
  drain(c, got);
  assert.deepEqual(got, sent);
  assert.equal(quits, 0);
  c.detach();
  assert.equal(input.paused, true, 'detach stops reading so the process can exit');
});

test('a terminal is put in raw mode and restored; Ctrl-A Ctrl-A is a literal Ctrl-A, Ctrl-A x quits', () => {
  const input = new FakeInput(true);
  let quits = 0;
  const c = new SerialConsole(input, { write: () => undefined }, () => { quits++; });
  c.attach();
  input.emit('data', Buffer.from([0x61, 0x01, 0x01, 0x62]));
  const got: number[] = [];
  drain(c, got);
  assert.deepEqual(got, [0x61, 0x01, 0x62]);
  input.emit('data', Buffer.from([0x01, 0x78]));
  assert.equal(quits, 1);
  c.detach();
  assert.deepEqual(input.rawCalls, [true, false]);
});

test('a flood of input pauses the stream and resumes it once the guest has taken most of it', () => {
  const input = new FakeInput(false);
  const c = new SerialConsole(input, { write: () => undefined }, () => undefined);
  c.attach();
  const big = Buffer.alloc(200 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = 0x20 + ((i * 31 + (i >> 8)) % 95); // printable: no Ctrl-A escapes
  input.emit('data', big);
  assert.equal(input.paused, true, 'paused above the threshold');
  assert.equal(c.pending, big.length);
  const got: number[] = [];
  let resumedAt = -1;
  while (c.pending > 0) {
    c.feed((bytes) => { const n = Math.min(bytes.length, 16); for (let i = 0; i < n; i++) got.push(bytes[i]); return n; }, 16);
    if (resumedAt < 0 && !input.paused) resumedAt = c.pending;
  }
  assert.ok(resumedAt >= 0 && resumedAt <= 4096, `resumed with ${resumedAt} bytes still queued`);
  assert.ok(Buffer.from(got).equals(big), 'every byte, in order');
  c.detach();
});
