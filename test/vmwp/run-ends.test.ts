// How `hypatia run` ends, through the real command: a guest rebooting over and over (reset-guest.c with
// --on-reset reboot) is stopped by SIGTERM or SIGINT within a moment, after which hypatia has ended by that same
// signal (what a shell reports as 143 / 130); a reported crash is status 8 with the crash parameters on stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { resetGuestElf } from './reset-guest.js';

const CLI = resolve('bin', 'hypatia.js');

interface Ended { signal: NodeJS.Signals | null; status: number | null; out: string; err: string; afterSignalMs: number }

/** Start a run, wait until `ready` matches its output, send `signal`, and time how long it takes to end. */
function signalWhen(args: string[], ready: RegExp, signal: NodeJS.Signals): Promise<Ended> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', sentAt = 0;
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`not ended:\n${out.slice(-2000)}\n${err.slice(-2000)}`)); }, 60_000);
    const check = (): void => {
      if (sentAt === 0 && ready.test(out + err)) { sentAt = Date.now(); child.kill(signal); }
    };
    child.stdout.on('data', (b: Buffer) => { out += b.toString('latin1'); check(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString('latin1'); check(); });
    child.on('close', (status, sig) => { clearTimeout(timer); done({ signal: sig, status, out, err, afterSignalMs: Date.now() - sentAt }); });
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} stops a VM that keeps rebooting, promptly, and hypatia ends by ${signal}`, async () => {
    const r = await signalWhen(['--kernel', resetGuestElf(), '--memory', '64M', '--append', 'reset-reg', '--on-reset', 'reboot'],
      /rebooting \(boot 3\)/, signal);
    assert.equal(r.signal, signal, `status ${r.status}\n${r.err.slice(-500)}`);
    assert.equal(r.status, null);
    assert.ok(r.afterSignalMs < 2000, `ended ${r.afterSignalMs} ms after the signal`);
    assert.match(r.err, /^hypatia: guest reset \(ACPI reset register\); rebooting \(boot 2\)\n/);
    assert.ok((r.out.match(/^boot: /gm) ?? []).length >= 2, 'the guest printed at least two boots');
  });
}

test('a crash reported through the crash MSRs: status 8 and the parameters on stderr', () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--kernel', resetGuestElf(), '--memory', '64M', '--append', 'crash'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 8, r.stderr);
  assert.equal(r.stderr, 'hypatia: guest panic reported through the Hyper-V crash MSRs (P0 0x11 P1 0x22 P2 0x33 P3 0x44 P4 0x55)\n');
});

test('a reset after the console\'s panic line: status 8, and the line on stderr', () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--kernel', resetGuestElf(), '--memory', '64M', '--append', 'panic-line', '--on-reset', 'reboot'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 8, r.stderr);
  assert.equal(r.stderr, 'hypatia: guest panic (its console showed "Kernel panic - not syncing: reset-guest console panic" and it reset)\n');
});

test('--on-reset takes reboot or stop', () => {
  const r = spawnSync(process.execPath, [CLI, 'run', '--kernel', resetGuestElf(), '--on-reset', 'maybe'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'hypatia run: --on-reset takes reboot or stop (got "maybe") (see hypatia run --help)\n');
});
