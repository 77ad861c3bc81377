// The SynIC from a freestanding guest booted by `hypatia run` (test/guests/synic.c), with a test-only root
// (test/support/synic-root.ts) that serves two connections through the root's SynIC API. Every check inside the
// guest must pass; the root reports what it served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildGuest, REPO_ROOT } from '../support/guest-build.js';
import { parseChecks } from '../support/guest-run.js';

const EXPECTED = [
  'CPUID 0x40000003 EAX bit 2 (SynIC MSRs available)',
  'CPUID 0x40000003 EBX bits 4, 5 (PostMessages, SignalEvents)',
  'SVERSION is 1',
  'SINT2 resets masked',
  '#GP(0) unmasking SINT2 with vector 15',
  'SCONTROL and SIMP read back',
  'HvPostMessage to connection 4 succeeds',
  'three messages from the root, in order, in the SINT2 slot',
  'MessagePending set while more were queued, clear on the last',
  'one 0xF3 interrupt per message',
  'fast HvSignalEvent on connection 0x2001 flag 5 succeeds',
  "the root's event sets SIEF slot 2 flag 7 with one interrupt",
  'HvPostMessage to an unknown connection -> INVALID_CONNECTION_ID',
  'HvPostMessage with 241 bytes -> INVALID_PARAMETER',
  'HvSignalEvent to an unknown connection -> INVALID_CONNECTION_ID',
  'refused calls raise nothing',
];

test('guest synic: enables the SynIC as Linux does, receives the root\'s queued messages through EOM, and signals an event', () => {
  const elf = buildGuest('synic');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'test', 'support', 'synic-root.js'), 'run', '--kernel', elf, '--memory', '64M'], {
    encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const checks = parseChecks(r.stdout);
  assert.deepEqual(checks.filter((c) => !c.ok).map((c) => c.line), [], r.stdout + r.stderr);
  assert.deepEqual(checks.map((c) => c.what), EXPECTED, r.stdout);
  assert.equal(r.status, 1, `debug-exit 0 is exit status 1: ${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /^synic-root: requests 1, posted 3, events \[5\]$/m);
});
