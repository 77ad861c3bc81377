// End to end: a freestanding C guest built now with the system compiler, run by `hypatia run` in a child
// partition: its COM1 output reaches stdout and its isa-debug-exit write becomes the exit status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve('.');
const OUT = join(ROOT, '.cache', 'guests');
const CLI = join(ROOT, 'bin', 'hypatia.js');

function build(name: string, defines: string[] = []): string {
  mkdirSync(OUT, { recursive: true });
  const elf = join(OUT, `${name}.elf`);
  execFileSync('cc', [
    '-ffreestanding', '-nostdlib', '-static', '-no-pie', '-fno-pic', '-O1', '-fno-builtin', '-fno-stack-protector',
    '-fcf-protection=none', '-mno-red-zone', '-mgeneral-regs-only', '-fno-asynchronous-unwind-tables',
    '-Wl,-Ttext=0x200000', '-Wl,-e,_start', '-Wl,--build-id=none', '-Wl,-z,noexecstack',
    ...defines.map((d) => `-D${d}`), '-o', elf, join(ROOT, 'test', 'guests', 'hello', 'hello.c'),
  ], { stdio: 'pipe' });
  return elf;
}

function run(elf: string, ...extra: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'run', '--kernel', elf, '--memory', '64M', ...extra], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('hello world through COM1, exit status from isa-debug-exit', () => {
  const r = run(build('hello'));
  assert.equal(r.stdout, 'Hello from a Hypatia child partition!\nsum ok\n');
  assert.equal(r.status, 33, r.stderr);
  assert.equal(r.stderr, '');
});

test('a guest halting with interrupts off ends the run with a message', () => {
  const r = run(build('hello-halt', ['HELLO_HALT']));
  assert.equal(r.stdout, 'Hello from a Hypatia child partition!\nsum ok\n');
  assert.equal(r.status, 0);
  assert.match(r.stderr, /^hypatia: guest halted with interrupts disabled at rip 0x2[0-9a-f]+; powering off\n$/);
});

test('a triple fault ends the run with a message and status 4', () => {
  const r = run(build('hello-triple', ['HELLO_TRIPLE_FAULT']));
  assert.equal(r.status, 4);
  assert.match(r.stderr, /^hypatia: guest triple fault \(unrecoverable exception\) at rip 0x2[0-9a-f]+; powering off\n$/);
});

test('--trace-exits shows the intercepts', () => {
  const r = run(build('hello'), '--trace-exits');
  assert.equal(r.status, 33);
  assert.match(r.stderr, /intercept \{"type":"0x80010000"/);
});
