// The synthetic timers from a freestanding guest booted by `hypatia run --clock virtual` (test/guests/stimer.c)
// under the test root that grants the SynIC and timer privileges (test/support/synic-root.ts): one-shot and
// periodic timers in direct and message mode arrive at their reference times, message payloads, a busy slot and
// a masked SINT hold the expiry until EOM / unmask, and the #GP cases. Every check inside the guest must pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildGuest, REPO_ROOT } from '../support/guest-build.js';
import { parseChecks } from '../support/guest-run.js';

const EXPECTED = [
  'CPUID 0x40000003 EAX bit 3 (synthetic timers available)',
  'CPUID 0x40000003 EDX bit 19 (direct-mode timers available)',
  'STIMER0-3 CONFIG and COUNT reset to 0',
  '#GP(0) writing CONFIG bit 13 (reserved)',
  '#GP(0) writing CONFIG bit 20 (reserved)',
  '#GP(0) writing CONFIG bit 40 (reserved)',
  '#GP(0) direct mode with vector 15',
  '#GP(0) reading 0x400000B8 (no fifth timer)',
  'refused writes change nothing',
  'a message-mode timer enabled with SINTx 0 reads back disabled',
  'direct one-shot, vector 0xED arrives at COUNT (1 ms later)',
  'the VP halted through the wait',
  'a fired one-shot timer clears enable and keeps COUNT',
  'a one-shot COUNT already past fires right after the WRMSR',
  'auto-enable sets enable on a COUNT write, COUNT 0 clears it and nothing fires',
  'direct periodic, five expiries 5000 apart, the first one period after enable',
  'CONFIG 0 stops a periodic timer',
  'message one-shot, HVMSG_TIMER_EXPIRED, 24 bytes, timer 1',
  'message one-shot, expiration and delivery times are COUNT',
  'the message-mode one-shot disabled itself',
  'message periodic, expirations one period apart, each delivered on time',
  "busy slot, timer 2's message stays, MessagePending is set, no interrupt",
  'the waiting one-shot is still enabled',
  'EOM delivers the waiting expiry',
  'delivered, the one-shot disables itself',
  'a timer on masked SINT3 delivers nothing',
  'unmasking SINT3 delivers the waiting expiry with vector 0xF4',
];

test('guest stimer: direct and message mode, one-shot and periodic, on time in reference time; busy slot, masked SINT, #GP', () => {
  const elf = buildGuest('stimer');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'test', 'support', 'synic-root.js'), 'run', '--kernel', elf, '--memory', '64M', '--clock', 'virtual'], {
    encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const checks = parseChecks(r.stdout);
  assert.deepEqual(checks.filter((c) => !c.ok).map((c) => c.line), [], r.stdout + r.stderr);
  assert.deepEqual(checks.map((c) => c.what), EXPECTED, r.stdout);
  assert.equal(r.status, 1, `debug-exit 0 is exit status 1: ${r.stdout}${r.stderr}`);
});
