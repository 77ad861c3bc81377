// A hostile guest against the root's VMBus server (test/guests/vmbus-flood.c, booted by `hypatia run` through a
// root that turns VMBus on for an ELF guest): 20000 messages the server must refuse cost the host only a
// rate-limited trickle of stderr, and the server still answers the guest's INITIATE_CONTACT afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildGuest, REPO_ROOT } from '../support/guest-build.js';
import { parseChecks } from '../support/guest-run.js';

test('guest vmbus-flood: 20000 refused messages, at most a burst of stderr lines plus one a second, and the server still answers', () => {
  const elf = buildGuest('vmbus-flood');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'test', 'support', 'vmbus-root.js'), 'run', '--kernel', elf, '--memory', '64M'], {
    encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seconds = (Date.now() - t0) / 1000;
  const checks = parseChecks(r.stdout);
  assert.deepEqual(checks.filter((c) => !c.ok).map((c) => c.line), [], r.stdout + r.stderr);
  assert.equal(checks.length, 5, r.stdout);
  assert.equal(r.status, 1, `debug-exit 0 is exit status 1: ${r.stdout}${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  for (const l of lines) assert.match(l, /^hypatia: (vmbus: |\(\d+ similar line\(s\) suppressed\)$)/, l);
  const refusals = lines.filter((l) => /^hypatia: vmbus: /.test(l));
  assert.ok(refusals.length >= 20, `the first refusals are reported:\n${r.stderr}`);
  assert.ok(refusals.length <= 20 + Math.ceil(seconds) + 1, `${refusals.length} lines in ${seconds.toFixed(1)} s:\n${r.stderr}`);
});
