// The signal state machine of `hypatia run` (src/cli/stop-signals.ts) in a child process that signals itself,
// with a stand-in worker that records what it is asked (the real worker and guest: the SIGTERM test of
// test/linux/integration-services.test.ts, and test/vmwp/run-ends.test.ts for a guest without VMBus).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../../src/cli/stop-signals.js', import.meta.url));

/** Runs `steps` (signals to itself, waits) against a worker whose shutdown service answers `canShutdown`. */
function scenario(canShutdown: boolean, timeoutMs: number, steps: string): { events: string[]; stderr: string; signal: NodeJS.Signals | null } {
  const script = `
    const { handleStopSignals } = await import(${JSON.stringify(MODULE)});
    const events = [];
    const worker = {
      requestGuestShutdown: () => { events.push('shutdown-request'); return ${canShutdown}; },
      requestStop: (s) => events.push('stop ' + s),
    };
    const detach = handleStopSignals(worker, process.stderr, { shutdownTimeoutMs: ${timeoutMs} });
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    process.on('exit', () => process.stdout.write(JSON.stringify(events)));
    ${steps}
    detach();
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  return { events: r.stdout ? JSON.parse(r.stdout) as string[] : [], stderr: r.stderr, signal: r.signal };
}

test('SIGTERM asks the guest; the VM is stopped only when the timeout runs out', () => {
  const r = scenario(true, 300, `process.kill(process.pid, 'SIGTERM'); await sleep(100); events.push('t+100'); await sleep(400);`);
  assert.deepEqual(r.events, ['shutdown-request', 't+100', 'stop SIGTERM']);
  assert.match(r.stderr, /^hypatia: SIGTERM: asked the guest to shut down; it has 0\.3 s to power off/m);
  assert.match(r.stderr, /^hypatia: the guest did not power off within 0\.3 s; stopping the VM$/m);
});

test('a signal during the shutdown stops the VM at once; no timeout fires afterwards', () => {
  const r = scenario(true, 500, `process.kill(process.pid, 'SIGTERM'); await sleep(50); process.kill(process.pid, 'SIGINT'); await sleep(700);`);
  assert.deepEqual(r.events, ['shutdown-request', 'stop SIGINT']);
  assert.match(r.stderr, /SIGINT during the guest's shutdown: stopping the VM now/);
  assert.doesNotMatch(r.stderr, /did not power off/);
});

test('SIGTERM without a shutdown service stops at once; SIGINT never asks the guest', () => {
  const none = scenario(false, 30_000, `process.kill(process.pid, 'SIGTERM'); await sleep(50);`);
  assert.deepEqual(none.events, ['shutdown-request', 'stop SIGTERM']);
  assert.match(none.stderr, /has no shutdown service to ask/);
  const int = scenario(true, 30_000, `process.kill(process.pid, 'SIGINT'); await sleep(50);`);
  assert.deepEqual(int.events, ['stop SIGINT']);
  assert.equal(int.stderr, '');
});

test('one more signal while the stop is being honoured ends the process by that signal', () => {
  const r = scenario(true, 30_000, `process.kill(process.pid, 'SIGINT'); await sleep(50); process.kill(process.pid, 'SIGTERM'); await sleep(2000);`);
  assert.equal(r.signal, 'SIGTERM');
  assert.match(r.stderr, /SIGTERM again: exiting now/);
});
