// The integration services against Debian 12's own hv_utils and hv_kvp_daemon, in one Linux boot (and a reboot) driven as a
// user would: `hypatia run --control SOCKET` boots the cloud kernel with the standard initramfs plus a check
// script (run by /init through hypatia.run=), and the host side is the `hypatia vm` CLI on that socket.
//   - the guest's log names the Heartbeat, Shutdown, TimeSync and KVP versions it negotiated, and the host
//     says the same versions (hypatia vm status);
//   - the guest's clock (date +%s, set by TimeSync: the platform has no RTC) matches the host's, after boot and
//     after idling (virtual time skips idle time and must not run ahead);
//   - the heartbeat says the guest is alive;
//   - a KVP value the host sets (pool 0, external) lands in the guest's /var/lib/hyperv/.kvp_pool_0, written
//     there by hv_kvp_daemon; a record the guest writes into .kvp_pool_1 (guest) is what the host reads back;
//     the daemon's auto pool answers with the guest's OS facts;
//   - vm kvp delete removes the key from the guest's pool; vm reboot runs the guest's own reboot path, and the
//     services negotiate again in the new boot (a KVP value reaches the new daemon);
//   - SIGTERM to hypatia runs the guest's own power-off path (hv_utils' shutdown request, /sbin/poweroff,
//     /init's trap, "reboot: Power down") and hypatia exits 0.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInitramfs, ensureGuestImages, READY_MARKER, type GuestImages } from '../../src/guest-images/index.js';
import { GuestConsole } from './guest-console.js';
import { bootGuard } from './boot-guard.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BOOT_TIMEOUT_MS = 400_000;
/** TimeSync keeps the guest's clock on the host's; it resyncs when they differ by more than 250 ms. */
const CLOCK_TOLERANCE_S = 2;

/** The guest's half: prints what it sees, publishes a KVP record, waits for the host's, then returns to /init. */
const CHECK_SCRIPT = `#!/bin/sh
p() { echo "ic-check: $*"; }
p "clock $(date +%s)"
pool=/var/lib/hyperv/.kvp_pool_
# A pool file is a sequence of 2560-byte records: key[512] value[2048], each a C string (hv_kvp_daemon.c). Only
# the bytes up to the NUL count: the daemon copies key_size/value_size bytes into records it does not clear,
# so what follows can be old heap contents.
rec() { printf '%s' "$1"; head -c $((512 - \${#1})) /dev/zero; printf '%s' "$2"; head -c $((2048 - \${#2})) /dev/zero; }
get() {
  n=$(( $(wc -c < "$pool$1") / 2560 )); r=0
  while [ $r -lt $n ]; do
    k=$(dd if="$pool$1" bs=2560 skip=$r count=1 2>/dev/null | head -c 512 | tr '\\000' '\\n' | head -n 1)
    if [ "$k" = "$2" ]; then dd if="$pool$1" bs=2560 skip=$r count=1 2>/dev/null | tail -c 2048 | tr '\\000' '\\n' | head -n 1; return 0; fi
    r=$((r + 1))
  done
  return 1
}
i=0
while [ ! -f \${pool}1 ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
p "daemon pid $(pidof hv_kvp_daemon), pools: $(ls -A /var/lib/hyperv | tr '\\n' ' ')"
val="guest-$(cat /proc/sys/kernel/random/uuid)"
rec GuestKey "$val" >> \${pool}1
p "guest-set GuestKey=$val"
p "ready"
i=0
while ! v=$(get 0 HostKey) && [ $i -lt 300 ]; do
  sleep 1; i=$((i + 1))
  [ $((i % 10)) -eq 0 ] && p "waiting for HostKey: $i s, $(wc -c < \${pool}0) bytes in pool 0, $(cat /proc/uptime)"
done
p "host-set HostKey=$v"
p "syslog: $(grep -c . /var/log/messages) lines"
grep -E 'KVP' /var/log/messages | sed 's/^/ic-check: syslog /'
p "done"
`;

let tmp: string;
let images: GuestImages;
let initrd: string;
let sock: string;
let runner: string;
let guest: GuestConsole | null = null;

function vm(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [runner, 'vm', ...args, '--control', sock]);
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hypatia-ic-'));
  images = await ensureGuestImages();
  initrd = join(tmp, 'initrd-ic.img');
  writeFileSync(initrd, buildInitramfs({ base: images.initrd, files: [{ path: '/ic-check.sh', data: CHECK_SCRIPT, mode: 0o755 }] }));
  sock = join(tmp, 'vm.sock');
  runner = join(tmp, 'hypatia.mjs');
  writeFileSync(runner, `const { main } = await import(${JSON.stringify(MAIN)});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
}, { timeout: 900_000 });

const booted = bootGuard(() => ({ guest, tmp }));

/** The guest's first clock reading minus the host's clock when it arrived (s), and the offset where the script said ready. */
let skewAtBoot = NaN;
let hostAtClock = NaN;
let readyAt = 0;

describe('integration services with Linux\'s hv_utils and hv_kvp_daemon (one boot, then a reboot)', () => {
  it('boots with the control socket; /init starts hv_kvp_daemon; the check script runs', { timeout: BOOT_TIMEOUT_MS + 10_000 }, async (t) => {
    const g = new GuestConsole(runner, ['run', '--kernel', images.kernel, '--initrd', initrd, '--append', 'console=ttyS0 hypatia.run=/ic-check.sh', '--control', sock]);
    guest = g;
    // The clock: the guest's date +%s against the host's clock when the line arrives.
    const clock = await g.waitFor(/^ic-check: clock (\d+)\r?$/m, 'the guest clock', BOOT_TIMEOUT_MS);
    hostAtClock = Date.now() / 1000;
    skewAtBoot = Number(clock[1]) - hostAtClock;
    await g.waitFor(new RegExp(`^${READY_MARKER}\\r?$`, 'm'), 'the ready marker', 60_000);
    const hypatiaInit = g.output.split('\n').filter((l) => l.startsWith('hypatia-init:')).join('\n');
    assert.match(hypatiaInit, /^hypatia-init: modules: 15 loaded, 0 failed, 0 skipped/m, hypatiaInit);
    assert.match(hypatiaInit, /^hypatia-init: kvp: hv_kvp_daemon started \(pid \d+\)/m, hypatiaInit);
    readyAt = (await g.waitFor(/^ic-check: ready\r?$/m, 'the check script', 120_000)).index;
    assert.match(g.output, /^ic-check: daemon pid \d+, pools: \.kvp_pool_0 \.kvp_pool_1 \.kvp_pool_2 \.kvp_pool_3 \.kvp_pool_4 /m);
    t.diagnostic(`script ready after ${((Date.now() - g.started) / 1000).toFixed(1)} s wall`);
  });

  it('the guest\'s log names the Heartbeat, Shutdown, TimeSync and KVP versions, and the host agrees', { timeout: 60_000 }, async (t) => {
    const g = booted();
    const versions: Record<string, string> = {};
    for (const [name, label] of [['heartbeat', 'Heartbeat'], ['shutdown', 'Shutdown'], ['timesync', 'TimeSync'], ['kvp', 'KVP']] as const) {
      const m = new RegExp(`hv_utils: ${label} IC version (\\d+\\.\\d+)`).exec(g.output);
      assert.ok(m, `the guest log names the ${label} IC version\n${g.tail()}`);
      versions[name] = m[1];
    }
    const status = await vm(['status', '--json']);
    assert.equal(status.status, 0, status.stderr);
    const integration = (JSON.parse(status.stdout) as { integration: Record<string, { phase: string; service: string }> }).integration;
    for (const [name, v] of Object.entries(versions)) {
      assert.equal(integration[name]?.phase, 'ready', `${name} negotiated: ${status.stdout}`);
      assert.equal(integration[name]?.service, v, `${name}: the host agrees with the guest's log`);
    }
    t.diagnostic(`negotiated: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  });

  it('the heartbeat says the guest is alive', { timeout: 60_000 }, async () => {
    // Alive once the guest has answered a beat (one every 2 s).
    let hb = await vm(['heartbeat']);
    for (let i = 0; i < 15 && hb.status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      hb = await vm(['heartbeat']);
    }
    assert.equal(hb.status, 0, `${hb.stdout}${hb.stderr}`);
    assert.match(hb.stdout, /^alive: yes, last sequence \d+, last answer \d+\.\d s ago\n$/);
    const json = JSON.parse((await vm(['heartbeat', '--json'])).stdout) as { alive: boolean; lastSequence: number; answered: number };
    assert.equal(json.alive, true);
    assert.ok(json.answered >= 1);
  });

  it('a value the host sets (pool 0) is in the guest\'s .kvp_pool_0, written there by hv_kvp_daemon', { timeout: 180_000 }, async () => {
    const g = booted();
    const hostValue = `host-${process.pid}-${Date.now()}`;
    const set = await vm(['kvp', 'set', 'HostKey', hostValue]);
    assert.equal(set.status, 0, set.stderr);
    const seen = await g.waitFor(/^ic-check: host-set HostKey=(.*?)\r?$/m, 'the host\'s value in the guest', 120_000, readyAt);
    assert.equal(seen[1], hostValue);
    const back = await vm(['kvp', 'get', '--pool', 'external', 'HostKey']);
    assert.deepEqual([back.status, back.stdout], [0, `${hostValue}\n`], back.stderr);
  });

  it('a record the guest writes into .kvp_pool_1 is what the host reads; the auto pool has the guest\'s OS facts', { timeout: 120_000 }, async (t) => {
    const g = booted();
    const guestValue = /^ic-check: guest-set GuestKey=(guest-[0-9a-f-]+)\r?$/m.exec(g.output)?.[1];
    assert.ok(guestValue, g.tail());
    const got = await vm(['kvp', 'get', 'GuestKey']);
    assert.deepEqual([got.status, got.stdout], [0, `${guestValue}\n`], got.stderr);
    const listed = await vm(['kvp', 'get', '--pool', 'guest']);
    assert.equal(listed.stdout, `GuestKey=${guestValue}\n`);
    const missing = await vm(['kvp', 'get', 'NoSuchKey']);
    assert.equal(missing.status, 1, missing.stderr);
    // The auto pool: values the daemon makes up from the running system (uname; no /etc/os-release here).
    const auto = JSON.parse((await vm(['kvp', 'get', '--pool', 'auto', '--json'])).stdout) as { items: { key: string; value: string }[] };
    const autoMap = new Map(auto.items.map((x) => [x.key, x.value]));
    assert.equal(autoMap.get('OSName'), 'Linux', JSON.stringify(auto.items));
    assert.equal(autoMap.get('FullyQualifiedDomainName'), 'hypatia-guest', 'gethostname + getaddrinfo through /etc/hosts');
    assert.equal(autoMap.get('ProcessorArchitecture'), 'x86_64');
    assert.equal(autoMap.get('OSBuildNumber'), images.manifest.kernel.release);
    assert.equal(autoMap.get('OSVersion'), images.manifest.kernel.release.split('-')[0]);
    assert.match(autoMap.get('IntegrationServicesVersion') ?? '', /^\d+\.\d+$/, 'the version hv_kvp registered with');
    t.diagnostic(`auto pool: ${auto.items.map((x) => `${x.key}=${x.value}`).join(', ')}`);
  });

  it('the guest\'s clock (set by time sync: the platform has no RTC) matches the host\'s, and stays with it while idle', { timeout: 180_000 }, async (t) => {
    const g = booted();
    const done = await g.waitFor(/^ic-check: done\r?$/m, 'the end of the check script', 60_000, readyAt);
    await g.waitPrompt(60_000, readyAt + done.index);
    // A round trip on the console bounds the skew whatever the latency: the guest read its clock (date +%s
    // truncates: the true time is in [s, s + 1)) between the host's sending the line and receiving the answer.
    const sample = async () => {
      const sent = Date.now() / 1000;
      const r = await g.run('date +%s', 60_000);
      const received = Date.now() / 1000;
      const guestSeconds = Number(r.output.trim());
      assert.ok(r.status === 0 && Number.isSafeInteger(guestSeconds), r.output);
      return { low: guestSeconds - received, high: guestSeconds + 1 - sent };
    };
    const first = await sample();
    // Idle: the guest halts in sleep and skips to its timers; its clock must not run ahead of the host's.
    await new Promise((r) => setTimeout(r, 15_000));
    const second = await sample();
    const ts = (JSON.parse((await vm(['status', '--json'])).stdout) as { services: { timesync: { syncs: number; lastDriftMs: number | null } } }).services.timesync;
    const fmt = (x: { low: number; high: number }) => `[${x.low.toFixed(2)}, ${x.high.toFixed(2)}] s`;
    t.diagnostic(`guest clock - host clock: ${skewAtBoot.toFixed(2)} s at the script's start (one-way, console latency included), ${fmt(first)} after boot, ${fmt(second)} 15 s of idle later; host sent ${ts.syncs} SYNCs, last drift ${ts.lastDriftMs?.toFixed(0)} ms`);
    for (const [what, x] of [['after boot', first], ['after 15 s idle', second]] as const) {
      assert.ok(x.low <= CLOCK_TOLERANCE_S && x.high >= -CLOCK_TOLERANCE_S, `guest clock ${what}: skew in ${fmt(x)}, not within ±${CLOCK_TOLERANCE_S} s`);
    }
  });

  it('a key the host deletes (vm kvp delete) leaves the guest\'s .kvp_pool_0; deleting it again says it is absent', { timeout: 120_000 }, async () => {
    const g = booted();
    const del = await vm(['kvp', 'delete', 'HostKey']);
    assert.equal(del.status, 0, `${del.stdout}${del.stderr}`);
    // The daemon answered the delete after rewriting its pool file without the record.
    await g.run('cd /var/lib/hyperv', 60_000);
    const r = await g.run('grep -c HostKey .kvp_pool_0', 60_000);
    assert.equal(r.output.trim(), '0', `the record is still in the guest's pool 0: ${r.output}`);
    const gone = await vm(['kvp', 'get', '--pool', 'external', 'HostKey']);
    assert.equal(gone.status, 1, `${gone.stdout}${gone.stderr}`);
    const again = await vm(['kvp', 'delete', 'HostKey']);
    assert.equal(again.status, 1, `deleting an absent key: ${again.stdout}${again.stderr}`);
  });

  it('vm reboot restarts the guest through its own reboot path, and the services work again in the new boot', { timeout: BOOT_TIMEOUT_MS + 120_000 }, async (t) => {
    const g = booted();
    const mark = g.output.length;
    const t0 = Date.now();
    const r = await vm(['reboot', '--reason', 'integration test']);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const ready = await g.waitFor(/^ic-check: ready\r?$/m, 'the check script of the second boot', BOOT_TIMEOUT_MS, mark);
    const between = g.output.slice(mark, mark + ready.index);
    assert.match(between, /hv_utils: Restart request received - graceful restart initiated/, g.tail());
    assert.match(between, /^hypatia-init: reboot requested \(SIGTERM\)\r?$/m, g.tail());
    assert.match(between, /reboot: Restarting system\r?$/m, g.tail());
    assert.match(g.stderr, /rebooting \(boot 2\)/, g.stderr);
    readyAt = mark + ready.index;
    // The new boot's hv_utils and daemon negotiated afresh: a new value reaches the new daemon's pool.
    const hostValue = `after-reboot-${Date.now()}`;
    const set = await vm(['kvp', 'set', 'HostKey', hostValue]);
    assert.equal(set.status, 0, set.stderr);
    const seen = await g.waitFor(/^ic-check: host-set HostKey=(.*?)\r?$/m, 'the host\'s value in the second boot', 120_000, readyAt);
    assert.equal(seen[1], hostValue);
    const status = JSON.parse((await vm(['status', '--json'])).stdout) as { integration: Record<string, { phase: string }> };
    for (const name of ['heartbeat', 'shutdown', 'timesync', 'kvp']) assert.equal(status.integration[name]?.phase, 'ready', `${name} after the reboot`);
    const done = await g.waitFor(/^ic-check: done\r?$/m, 'the end of the second boot\'s check script', 60_000, readyAt);
    await g.waitPrompt(60_000, readyAt + done.index);
    t.diagnostic(`second boot's check script ready ${((Date.now() - t0) / 1000).toFixed(1)} s after vm reboot`);
  });

  it('SIGTERM runs the guest\'s own power-off (hv_utils shutdown, /sbin/poweroff, /init) and hypatia exits 0', { timeout: 180_000 }, async (t) => {
    const g = booted();
    await g.waitFor(/^ic-check: done\r?$/m, 'the end of the check script', 60_000, readyAt);
    const mark = g.output.length;
    const t0 = Date.now();
    g.signal('SIGTERM');
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within 120 s of SIGTERM\n${g.tail()}`)), 120_000).unref());
    const exit = await Promise.race([g.closed, timer]);
    const tail = g.output.slice(mark);
    assert.match(tail, /hv_utils: Shutdown request received - graceful shutdown initiated/, g.tail());
    // /init's line may land right after the shell's prompt: both write to COM1, neither waits for a line start.
    assert.match(tail, /hypatia-init: power-off requested \(SIGUSR2\)\r?$/m, g.tail());
    assert.match(tail, /reboot: Power down\r?$/m, g.tail());
    assert.deepEqual(exit, { status: 0, signal: null }, g.tail());
    assert.match(g.stderr, /^hypatia: SIGTERM: asked the guest to shut down/m);
    t.diagnostic(`powered off ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGTERM; whole run ${((Date.now() - g.started) / 1000).toFixed(1)} s`);
  });
});
