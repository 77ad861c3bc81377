// The console panic-line watcher (src/vmwp/panic-watch.ts) byte by byte, against lines as Linux prints them
// (kernel/panic.c: pr_emerg("Kernel panic - not syncing: %s\n", buf), with or without the printk timestamp).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PanicWatch } from '../../src/vmwp/index.js';

function feed(w: PanicWatch, text: string): void {
  for (const b of Buffer.from(text, 'latin1')) w.feed(b);
}

test('finds the panic line after a timestamp, keeps it to the end of the line', () => {
  const w = new PanicWatch();
  feed(w, '[    0.5] ok\r\n[    9.876543] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n[    9.9] CPU: 0\r\n');
  assert.equal(w.panicLine, 'Kernel panic - not syncing: VFS: Unable to mount root fs');
});

test('partial matches that restart inside themselves (KMP) and chunks split anywhere', () => {
  const w = new PanicWatch();
  feed(w, 'Kernel Kernel pKernel panic - not');
  assert.equal(w.panicLine, null);
  feed(w, ' syncing: Attempted to kill init!');
  assert.equal(w.panicLine, 'Kernel panic - not syncing: Attempted to kill init!', 'no newline yet: what came so far');
  feed(w, '\nKernel panic - not syncing: a second one\n');
  assert.equal(w.panicLine, 'Kernel panic - not syncing: Attempted to kill init!', 'the first panic line of a boot is kept');
});

test('nothing but similar text is not a panic; control bytes are shown as ?; long lines are cut; reset forgets', () => {
  const w = new PanicWatch();
  feed(w, 'kernel panic - not syncing\nKernel panic - syncing\nKernel Panic - not syncing\n');
  assert.equal(w.panicLine, null);
  feed(w, 'Kernel panic - not syncing: \x1b[0m' + 'x'.repeat(500) + '\n');
  const line = w.panicLine!;
  assert.equal(line.length, 240);
  assert.ok(line.startsWith('Kernel panic - not syncing: ?[0mxxx'));
  w.reset();
  assert.equal(w.panicLine, null);
  feed(w, 'Kernel panic - not syncing: again\n');
  assert.equal(w.panicLine, 'Kernel panic - not syncing: again');
});
