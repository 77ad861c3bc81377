// How a real Linux guest ends, through `hypatia run` with Debian 12's cloud kernel and the guest initramfs
// (fetched by src/guest-images when missing):
//  - a panic (sysrq 'c', from a script added to a variant initramfs and run by /init through hypatia.run=):
//    the built-in Hyper-V code (drivers/hv/hv_common.c) saw CPUID 0x40000003 EDX bit 10 and CRASH_CTL bit 62,
//    so it hands the hypervisor its log page through the crash MSRs; the run ends with status 8 and Linux's own
//    panic line on stderr; before that hv_vmbus unloads VMBus (CHANNELMSG_UNLOAD) and waits for the answer;
//  - `reboot -f` (hypatia.run=reboot,-f): Linux resets through the FADT's reset register, hypatia boots it
//    again in the same process (a bzImage reboots by default), the second boot reaches /init too; SIGINT then
//    stops it promptly and hypatia ends by SIGINT (SIGTERM would ask the guest to shut down first, through the
//    shutdown integration service its hv_utils negotiated).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildInitramfs, ensureGuestImages, READY_MARKER } from '../../src/guest-images/index.js';

const CLI = resolve('bin', 'hypatia.js');
const TIMEOUT_MS = 300_000;
const CMDLINE = 'console=ttyS0 panic=-1 cryptomgr.notests';

interface Run { out: string; err: string; status: number | null; signal: NodeJS.Signals | null; ms: number; afterSignalMs: number }

/** Boot; when `stopWhen` matches the console output, send SIGINT (stop the VM at once). */
function boot(kernel: string, initrd: string, append: string, stopWhen?: (out: string) => boolean, extra: string[] = []): Promise<Run> {
  return new Promise((done, fail) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, 'run', '--kernel', kernel, '--initrd', initrd, '--memory', '512M', '--append', append, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', sentAt = 0;
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`no end within ${TIMEOUT_MS} ms:\n${out.slice(-3000)}\n${err}`)); }, TIMEOUT_MS);
    const check = (): void => {
      if (sentAt === 0 && stopWhen !== undefined && stopWhen(out)) { sentAt = Date.now(); child.kill('SIGINT'); }
    };
    child.stdout.on('data', (b: Buffer) => { out += b.toString('latin1'); check(); });
    child.stderr.on('data', (b: Buffer) => { err += b.toString('latin1'); });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ out, err, status, signal, ms: Date.now() - t0, afterSignalMs: sentAt === 0 ? -1 : Date.now() - sentAt });
    });
  });
}

test('Linux panics (sysrq c): reported through the Hyper-V crash MSRs with its log page; status 8', { timeout: TIMEOUT_MS + 60_000 }, async (t) => {
  const images = await ensureGuestImages();
  const dir = mkdtempSync(join(tmpdir(), 'hypatia-panic-'));
  try {
    const initrd = join(dir, 'initrd-crash.img');
    writeFileSync(initrd, buildInitramfs({ base: images.initrd, files: [{ path: '/usr/local/bin/crash', data: '#!/bin/sh\necho c > /proc/sysrq-trigger\n' }] }));
    const r = await boot(images.kernel, initrd, `${CMDLINE} hypatia.run=/usr/local/bin/crash`, undefined, ['--trace-vmbus']);
    t.diagnostic(`panicked and ended after ${r.ms} ms`);
    const report = `${r.out.slice(-3000)}\n${r.err}`;
    assert.match(r.out, /Hyper-V: enabling crash_kexec_post_notifiers/, 'Linux saw the crash MSR feature bit');
    assert.match(r.out, /Kernel panic - not syncing: sysrq triggered crash/, report);
    assert.equal(r.status, 8, report);
    // hv_kmsg_dump: P0..P2 zero, P3 the page's GPA (inside the 512 MiB of RAM), P4 the bytes it wrote (<= 4096).
    // --trace-vmbus narrates the channels; the panic report is the last line of stderr.
    const m = /^hypatia: guest panic reported through the Hyper-V crash MSRs \(P0 0x0 P1 0x0 P2 0x0 P3 (0x[0-9a-f]+) P4 (0x[0-9a-f]+)\): "Kernel panic - not syncing: sysrq triggered crash"\n$/m.exec(r.err);
    assert.ok(m !== null, report);
    assert.ok(Number(m[1]) % 4096 === 0 && Number(m[1]) < 512 * 2 ** 20, `log page GPA ${m[1]}`);
    assert.ok(Number(m[2]) > 0 && Number(m[2]) <= 4096, `log length ${m[2]}`);
    assert.ok(r.err.endsWith(m[0]), `the panic report ends stderr\n${report}`);
    // hv_vmbus unloads on panic (vmbus_initiate_unload(crash) from its panic notifier, before the crash MSRs'
    // report) and busy-waits for UNLOAD_RESPONSE on its message page, complaining every 10 s and giving up after
    // 100 s: the server's answer is what lets the panic go on at once.
    const unload = r.err.indexOf('hypatia: vmbus: UNLOAD: closing every channel\n');
    assert.ok(unload >= 0 && unload < m.index, `the guest unloaded VMBus before it reported the panic\n${report}`);
    assert.doesNotMatch(r.out, /Waiting for VMBus UNLOAD|VMBus UNLOAD did not complete/, report);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Linux reboots through the reset register: booted again in the same process; SIGINT then ends it', { timeout: TIMEOUT_MS + 60_000 }, async (t) => {
  const images = await ensureGuestImages();
  const secondBootReady = (out: string): boolean => {
    const second = out.indexOf('Linux version', out.indexOf('Linux version') + 1);
    return second > 0 && out.indexOf(READY_MARKER, second) > 0;
  };
  const r = await boot(images.kernel, images.initrd, `${CMDLINE} hypatia.run=reboot,-f`, secondBootReady);
  t.diagnostic(`two boots in ${r.ms} ms; ended ${r.afterSignalMs} ms after SIGINT`);
  const report = `${r.out.slice(-3000)}\n${r.err}`;
  assert.match(r.out, /reboot: Restarting system/, report);
  // The stop was asked for as soon as the second boot's /init was ready; it takes effect within one slice, by
  // which time that boot may have gone on to run reboot -f (and even reset) or not.
  assert.ok((r.out.match(/\] Linux version 6\.1\./g) ?? []).length >= 2, 'two kernel banners');
  assert.equal(r.out.match(new RegExp(READY_MARKER, 'g'))?.length, 2, 'both boots reached /init');
  assert.match(r.err, /^hypatia: guest reset \(ACPI reset register\); rebooting \(boot 2\)\n/, report);
  assert.equal(r.signal, 'SIGINT', report);
  assert.ok(r.afterSignalMs >= 0 && r.afterSignalMs < 2000, `ended ${r.afterSignalMs} ms after SIGINT`);
});
