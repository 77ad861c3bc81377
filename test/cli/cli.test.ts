// The command line: help, and every kind of bad input answered with one line on stderr and a non-zero status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const CLI = resolve('bin', 'hypatia.js');
const TMP = resolve('.cache', 'cli-test');

function hypatia(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLineError(r: { status: number | null; stderr: string }, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('help', () => {
  const h = hypatia('--help');
  assert.equal(h.status, 0);
  assert.match(h.stdout, /Commands:[\s\S]*run[\s\S]*vhd/);
  const rh = hypatia('run', '--help');
  assert.equal(rh.status, 0);
  assert.match(rh.stdout, /--kernel <file>/);
  assert.match(rh.stdout, /--memory <size>/);
  assert.match(rh.stdout, /--initrd <file>/);
  assert.match(rh.stdout, /--append <text>/);
  assert.match(rh.stdout, /\(v << 1\) \| 1/);
  // How a run ends: the reset policy, every even status, and the signals.
  assert.match(rh.stdout, /--on-reset <what>/);
  for (const s of [0, 2, 4, 6, 8]) assert.match(rh.stdout, new RegExp(`^  ${s}  \\S`, 'm'), `status ${s} explained`);
  // SIGTERM: a clean shutdown through the shutdown service with a timeout, else a stop (143); SIGINT a stop (130).
  assert.match(rh.stdout, /SIGTERM asks the guest to shut down[\s\S]*exits 0[\s\S]*--shutdown-timeout[\s\S]*143[\s\S]*SIGINT stops the VM at once[\s\S]*130/);
  assert.match(rh.stdout, /--control <path>/);
  assert.match(rh.stdout, /--shutdown-timeout <s>/);
  assert.equal(hypatia().status, 2);
});

test('vhd is dispatched to the storage CLI', () => {
  const r = hypatia('vhd', '--help');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.length + r.stderr.length > 0);
});

test('bad input: one line, non-zero status', () => {
  mkdirSync(TMP, { recursive: true });
  const notElf = join(TMP, 'not.elf');
  writeFileSync(notElf, 'hello, I am not an ELF file at all, not even close to one, no, no, no');
  const truncated = join(TMP, 'truncated.elf');
  writeFileSync(truncated, Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
  const outside = join(TMP, 'outside.elf');
  writeFileSync(outside, minimalElf(0x7ff0000));
  oneLineError(hypatia('frobnicate'), 2, /^hypatia: unknown command "frobnicate"/);
  oneLineError(hypatia('--frob'), 2, /^hypatia: unknown option --frob/);
  oneLineError(hypatia('run'), 2, /needs --kernel/);
  oneLineError(hypatia('run', '--kernel'), 2, /--kernel needs a value/);
  oneLineError(hypatia('run', '--kernel', notElf, '--bogus'), 2, /unknown option --bogus/);
  oneLineError(hypatia('run', '--kernel', notElf, '--memory', 'lots'), 2, /--memory: bad size "lots"/);
  oneLineError(hypatia('run', '--kernel', notElf, '--memory', '4G'), 2, /--memory: 4096M is too large/);
  oneLineError(hypatia('run', '--kernel', notElf, '--memory', '1000'), 2, /not a multiple of 4K/);
  oneLineError(hypatia('run', '--kernel', join(TMP, 'missing.elf')), 2, /cannot read kernel .*missing\.elf: no such file/);
  oneLineError(hypatia('run', '--kernel', TMP), 2, /is a directory/);
  oneLineError(hypatia('run', '--kernel', notElf), 2, /not an ELF file \(bad magic\)/);
  oneLineError(hypatia('run', '--kernel', truncated), 2, /only 8 bytes/);
  oneLineError(hypatia('run', '--kernel', outside, '--memory', '64M'), 2, /lies outside guest memory \(67108864 bytes\)/);
  // Direct Linux boot options: a missing initrd, a command line longer than the kernel accepts.
  const good = join(TMP, 'good.elf');
  writeFileSync(good, minimalElf(0x200000));
  oneLineError(hypatia('run', '--kernel', good, '--initrd', join(TMP, 'missing.img')), 2, /cannot read initrd .*missing\.img: no such file/);
  oneLineError(hypatia('run', '--kernel', good, '--append', 'x'.repeat(3000)), 2, /command line is 3000 bytes; this kernel accepts at most 2047/);
  oneLineError(hypatia('run', '--kernel', good, '--append'), 2, /--append needs a value/);
  // The control socket and the shutdown timeout.
  oneLineError(hypatia('run', '--kernel', good, '--shutdown-timeout', '0'), 2, /--shutdown-timeout takes seconds, more than 0/);
  oneLineError(hypatia('run', '--kernel', good, '--shutdown-timeout', 'soon'), 2, /--shutdown-timeout takes seconds/);
  oneLineError(hypatia('run', '--kernel', good, '--control', ''), 2, /--control needs a path/);
  oneLineError(hypatia('run', '--kernel', good, '--control', good), 2, /^hypatia run: --control .*good\.elf: .*exists and is not a socket/);
  // The VMBus version cap: one of the versions served, and only where there is VMBus.
  oneLineError(hypatia('run', '--kernel', good, '--vmbus-version', '4.2'), 2, /--vmbus-version takes 5\.3 or 5\.2 or 5\.1 or 5\.0 or 4\.1 or 4\.0 or 3\.0 or 2\.4 \(got "4\.2"\)/);
  oneLineError(hypatia('run', '--kernel', good, '--vmbus-version', '4.0'), 2, /^hypatia run: a VMBus version needs VMBus/);
});

/** An ELF with one executable segment at `addr` (ELF64 header + one program header + 1 byte: HLT). */
function minimalElf(addr: number): Uint8Array {
  const b = new Uint8Array(64 + 56 + 1);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(16, 2, true); dv.setUint16(18, 62, true); dv.setUint32(20, 1, true);
  dv.setBigUint64(24, BigInt(addr), true); dv.setBigUint64(32, 64n, true);
  dv.setUint16(52, 64, true); dv.setUint16(54, 56, true); dv.setUint16(56, 1, true);
  dv.setUint32(64, 1, true); dv.setUint32(68, 5, true); dv.setBigUint64(72, 120n, true);
  dv.setBigUint64(80, BigInt(addr), true); dv.setBigUint64(88, BigInt(addr), true);
  dv.setBigUint64(96, 1n, true); dv.setBigUint64(104, 0x20000n, true);
  b[120] = 0xf4;
  return b;
}
