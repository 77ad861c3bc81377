// VMBus proven by Debian 12's own hv_vmbus: `hypatia run` of the stock cloud kernel gives it the ACPI VMBus
// devices, the SynIC privileges and the root's channel server. The guest's ACPI core must enumerate VMOD and
// VMBS and bind hv_vmbus's ACPI driver, hv_vmbus must negotiate VMBus 5.3 and list every device the host
// offered under /sys/bus/vmbus/devices with the offer's class and instance GUIDs and relid (the host's side is
// its --trace-vmbus narration, so whatever VSPs the machine carries are covered, plus a loopback device the
// test root adds through the worker's addVsp hook). Then a guest reboot builds a new machine whose server
// the new kernel connects to again, and poweroff -f ends the run with status 0. One process, two boots.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildInitramfs, ensureGuestImages, READY_MARKER, type GuestImages } from '../../src/guest-images/index.js';
import { GuestConsole } from './guest-console.js';
import { bootGuard } from './boot-guard.js';
import { LOOPBACK_CLASS, LOOPBACK_INSTANCE } from '../support/loopback-vsp.js';

const ROOT = resolve('.');
const VMBUS_ROOT = join(ROOT, 'dist', 'test', 'support', 'vmbus-root.js');
const BOOT_TIMEOUT_MS = 300_000;
const COMMAND_TIMEOUT_MS = 60_000;

/** Runs in the guest: the ACPI devices of the VMBus and every VMBus device as the guest kernel sees them. */
const CHECK_SCRIPT = `#!/bin/sh
for a in /sys/bus/acpi/devices/*; do
  hid=$(cat "$a/hid" 2>/dev/null)
  case "$hid" in VMBUS|ACPI0004)
    parent=$(basename "$(dirname "$(readlink -f "$a")")")
    echo "acpi $(basename "$a") path=$(cat "$a/path") status=$(cat "$a/status" 2>/dev/null) parent=$parent $(grep ^DRIVER= "$a/uevent")" ;;
  esac
done
for d in /sys/bus/vmbus/devices/*; do
  [ -e "$d" ] || continue
  drv=$(readlink "$d/driver" 2>/dev/null)
  echo "vmbus $(basename "$d") class=$(cat "$d/class_id") device=$(cat "$d/device_id") relid=$(cat "$d/id") driver=\${drv##*/}"
done
`;

interface HostOffer { relid: number; name: string; classId: string; instanceId: string }

/** The offers the host narrated on stderr (--trace-vmbus), from offset `from`. */
function hostOffers(stderr: string): HostOffer[] {
  const re = /^hypatia: vmbus: offering relid (\d+) (\S+) \(class ([0-9a-f-]{36}), instance ([0-9a-f-]{36}),/gm;
  return [...stderr.matchAll(re)].map((m) => ({ relid: Number(m[1]), name: m[2], classId: m[3], instanceId: m[4] }));
}

let tmp: string;
let images: GuestImages;
let initrd: string;
let guest: GuestConsole | null = null;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hypatia-vmbus-'));
  images = await ensureGuestImages();
  initrd = join(tmp, 'initrd-vmbus.img');
  writeFileSync(initrd, buildInitramfs({ base: images.initrd, files: [{ path: '/vmbus-check', data: CHECK_SCRIPT, mode: 0o755 }] }));
}, { timeout: 900_000 });

const booted = bootGuard(() => ({ guest, tmp }));

describe('VMBus: Debian 12\'s hv_vmbus on the root\'s channel server', () => {
  it('boots; hv_vmbus loads and negotiates VMBus 5.3 with no complaint', { timeout: BOOT_TIMEOUT_MS + 10_000 }, async (t) => {
    const g = new GuestConsole(VMBUS_ROOT, ['run', '--kernel', images.kernel, '--initrd', initrd, '--append', 'console=ttyS0', '--trace-vmbus']);
    guest = g;
    const ready = await g.waitFor(new RegExp(`^${READY_MARKER}\\r?$`, 'm'), 'the ready marker', BOOT_TIMEOUT_MS);
    await g.waitPrompt(COMMAND_TIMEOUT_MS, ready.index);
    assert.match(g.output, /^hypatia-init: modules: \d+ loaded, 0 failed, 0 skipped\r?$/m, 'every module loads, hv_vmbus and its drivers included');
    const v = /^\[\s*(\d+\.\d+)\] hv_vmbus: Vmbus version:5\.3\r?$/m.exec(g.output);
    assert.ok(v, `hv_vmbus: Vmbus version:5.3 in the guest log\n${g.tail()}`);
    assert.match(g.stderr, /^hypatia: vmbus: connected, version 5\.3, messages to VP 0$/m);
    // The guest's own view of anything VMBus, SynIC or Hyper-V MSR related that went wrong (contract §12).
    const r = await booted().run('dmesg|grep -iE "vmbus|hv_|synic|msr"', COMMAND_TIMEOUT_MS);
    assert.match(r.output, /hv_vmbus: Vmbus version:5\.3/, 'the grep sees the guest log');
    const complaints = r.output.split('\n').filter((l) => /error|fail|unable|unchecked|warn|bug|timed? ?out/i.test(l));
    assert.deepEqual(complaints, [], r.output);
    t.diagnostic(`Vmbus version:5.3 at ${v[1]} s guest time, ready marker after ${((Date.now() - g.started) / 1000).toFixed(1)} s wall`);
  });

  it('the guest\'s ACPI core binds hv_vmbus\'s driver to \\_SB.VMOD.VMBS, inside the module device VMOD', { timeout: 120_000 }, async () => {
    const r = await booted().run('/vmbus-check | grep ^acpi', COMMAND_TIMEOUT_MS);
    assert.equal(r.status, 0, r.output);
    const lines = r.output.trim().split('\n').map((l) => l.trimEnd()).sort();
    assert.deepEqual(lines, [
      'acpi ACPI0004:00 path=\\_SB_.VMOD status= parent=LNXSYBUS:00',
      'acpi VMBUS:00 path=\\_SB_.VMOD.VMBS status=15 parent=ACPI0004:00 DRIVER=vmbus',
    ], r.output);
  });

  it('/sys/bus/vmbus/devices lists exactly the devices the host offered, with their class and instance GUIDs and relids', { timeout: 120_000 }, async (t) => {
    const g = booted();
    const offers = hostOffers(g.stderr);
    assert.ok(offers.some((o) => o.classId === LOOPBACK_CLASS && o.instanceId === LOOPBACK_INSTANCE), `the loopback device was offered:\n${g.stderr}`);
    const r = await g.run('/vmbus-check | grep ^vmbus', COMMAND_TIMEOUT_MS);
    assert.equal(r.status, 0, r.output);
    const guestDevices = r.output.trim().split('\n').map((l) => {
      const m = /^vmbus (\S+) class=\{(\S+)\} device=\{(\S+)\} relid=(\d+) driver=(\S*)$/.exec(l);
      assert.ok(m, `a device line: ${l}`);
      return { dir: m[1], classId: m[2], instanceId: m[3], relid: Number(m[4]), driver: m[5] };
    });
    const key = (d: { relid: number; classId: string; instanceId: string }): string => `${d.relid} ${d.classId} ${d.instanceId}`;
    assert.deepEqual(guestDevices.map(key).sort(), offers.map(key).sort(), 'guest devices = host offers');
    for (const d of guestDevices) assert.equal(d.dir, d.instanceId, 'the device directory is named by its instance GUID');
    const loop = guestDevices.find((d) => d.instanceId === LOOPBACK_INSTANCE);
    assert.equal(loop?.driver, '', 'no driver claims the loopback class');
    t.diagnostic(`devices: ${guestDevices.map((d) => `${d.relid}:${offers.find((o) => o.relid === d.relid)?.name}${d.driver === '' ? '' : `->${d.driver}`}`).join(' ')}`);
  });

  it('after reboot -f the new kernel connects to the new machine\'s server and is offered the devices again; poweroff -f ends the run with status 0', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
    const g = booted();
    const offersBefore = hostOffers(g.stderr).length;
    const mark = g.output.length;
    g.write('reboot -f\n');
    await g.waitFor(/^hypatia-init: ready\r?$/m, 'the ready marker of the second boot', BOOT_TIMEOUT_MS, mark);
    assert.match(g.output.slice(mark), /^\[\s*\d+\.\d+\] hv_vmbus: Vmbus version:5\.3\r?$/m);
    assert.match(g.stderr, /rebooting \(boot 2\)/);
    assert.equal((g.stderr.match(/^hypatia: vmbus: connected, version 5\.3/gm) ?? []).length, 2, g.stderr);
    assert.equal(hostOffers(g.stderr).length, offersBefore * 2, 'every device offered again');
    await g.waitPrompt(COMMAND_TIMEOUT_MS, mark);
    g.write('poweroff -f\n');
    g.endInput();
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within 60 s of poweroff -f\n${g.tail()}`)), 60_000).unref());
    const exit = await Promise.race([g.closed, timer]);
    assert.match(g.output, /reboot: Power down\r?$/m, g.tail());
    assert.deepEqual(exit, { status: 0, signal: null }, g.tail());
    // stderr: only --trace-vmbus narration (the server's, the VSPs') and the reboot line; nothing refused, dropped or failed.
    const other = g.stderr.split('\n').filter((l) => l !== '' && !/^hypatia: (vmbus|[a-z]+\/[a-z-]+): /.test(l) && !/^hypatia: guest reset .*rebooting \(boot 2\)$/.test(l));
    assert.deepEqual(other, [], g.stderr);
    assert.doesNotMatch(g.stderr, /refus|drop|fail|threw/i, g.stderr);
    t.diagnostic(`two boots and power-off in ${((Date.now() - g.started) / 1000).toFixed(1)} s wall`);
  });
});
