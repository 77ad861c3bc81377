// End to end through `hypatia run`: a freestanding guest (acpi-guest.c, built now with the system compiler)
// finds the ACPI tables from the boot_params page in RSI as an OS does, checks every checksum, and powers the VM
// off through PM1a_CNT with the \_S5 SLP_TYP (status 0) or resets it through the FADT's reset register (status
// 6), as the command line passed with --append tells it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve('.');
const CLI = join(ROOT, 'bin', 'hypatia.js');

function build(): string {
  const out = join(ROOT, '.cache', 'firmware-test');
  mkdirSync(out, { recursive: true });
  const elf = join(out, `acpi-guest-${process.pid}.elf`);
  execFileSync('cc', [
    '-ffreestanding', '-nostdlib', '-static', '-no-pie', '-fno-pic', '-O1', '-fno-builtin', '-fno-stack-protector',
    '-fcf-protection=none', '-mno-red-zone', '-mgeneral-regs-only', '-fno-asynchronous-unwind-tables', '-Wall', '-Werror',
    '-Wl,-Ttext=0x200000', '-Wl,-e,_start', '-Wl,--build-id=none', '-Wl,-z,noexecstack',
    '-o', elf, join(ROOT, 'test', 'firmware', 'acpi-guest.c'),
  ], { stdio: 'pipe' });
  return elf;
}

const elf = build();
after(() => rmSync(elf, { force: true }));
const run = (append: string): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--kernel', elf, '--memory', '64M', '--append', append], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('an OS-style walk of the tables powers the VM off through PM1a_CNT: hypatia run exits 0', () => {
  const r = run('poweroff');
  assert.match(r.stdout, /^cmdline: poweroff\nRSDP ok\nXSDT ok\nFACP ok\nDSDT ok\nFACS ok\n/);
  assert.match(r.stdout, /PM1a_CNT 0x0000000000000404 SLP_TYP\(S5\) 0x0000000000000005 RESET_REG 0x000000000000040c value 0x0000000000000001\n$/);
  assert.doesNotMatch(r.stdout, /FAIL/);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('the reset register ends the run with status 6 and says why', () => {
  const r = run('reset');
  assert.match(r.stdout, /^cmdline: reset\nRSDP ok\n/);
  assert.doesNotMatch(r.stdout, /FAIL/);
  assert.equal(r.status, 6, r.stdout);
  assert.match(r.stderr, /guest reset \(ACPI reset register\)/);
});
