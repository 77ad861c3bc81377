// The fetched kernel and initramfs boot on an independent x86 machine: QEMU (TCG, installed from Debian's
// qemu-system-x86 when missing) loads them with its own Linux loader, and the real kernel unpacks our cpio,
// runs our /init, loads the modules it can (QEMU is not Hyper-V, so hv_vmbus fails with ENODEV and everything
// needing it is skipped), prints the ready marker and gives an interactive shell on ttyS0. A variant initramfs
// runs a static test program named by hypatia.run=.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildInitramfs, ensureGuestImages, READY_MARKER, type GuestImages } from '../../src/guest-images/index.js';
import { ensureDebianTool } from './debian-tools.js';

const BOOT_TIMEOUT_MS = 120_000;

class Qemu {
  private out = '';
  private readonly proc: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;

  constructor(kernel: string, initrd: string, append: string) {
    this.proc = spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '256', '-smp', '1', '-nodefaults', '-nographic', '-no-reboot', '-monitor', 'none',
      '-serial', 'stdio', '-kernel', kernel, '-initrd', initrd, '-append', append,
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (b: Buffer) => { this.out += b.toString('utf8'); });
    this.proc.stderr.on('data', (b: Buffer) => { this.out += b.toString('utf8'); });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  get output(): string { return this.out; }

  /** Resolves with the output so far once `re` matches it (searching from `from`). */
  async waitFor(re: RegExp, timeoutMs = BOOT_TIMEOUT_MS, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (this.proc.exitCode !== null) throw new Error(`qemu exited (${this.proc.exitCode}) before ${re}:\n${this.out.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${this.out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  type(line: string): void { this.proc.stdin.write(`${line}\n`); }

  kill(): void { if (this.proc.exitCode === null) this.proc.kill('SIGKILL'); }
}

let images: GuestImages;
let tmp: string;
const running: Qemu[] = [];

before(async () => {
  ensureDebianTool('qemu-system-x86_64', 'qemu-system-x86');
  images = await ensureGuestImages();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-qemu-'));
});
after(() => {
  for (const q of running) q.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function boot(initrd: string, append = ''): Qemu {
  const q = new Qemu(images.kernel, initrd, `console=ttyS0 panic=-1 ${append}`.trim());
  running.push(q);
  return q;
}

describe('the guest images boot under QEMU', () => {
  it('the kernel runs /init: modules loaded or skipped as the hardware allows, the marker, a shell on ttyS0', async () => {
    const q = boot(images.initrd);
    await q.waitFor(new RegExp(`^${READY_MARKER}\\r?$`, 'm'));
    // Off Hyper-V, hv_vmbus refuses to load and everything that needs it is skipped; the rest loads.
    const needsVmbus = new Set(['hv_vmbus']);
    for (const m of images.manifest.modules) if (m.deps.some((d) => needsVmbus.has(d))) needsVmbus.add(m.name);
    const loadable = images.manifest.modules.filter((m) => !needsVmbus.has(m.name)).map((m) => m.name);
    assert.match(q.output, /hypatia-init: insmod hv_vmbus failed: .*No such device/);
    assert.match(q.output, /hypatia-init: skip hv_storvsc: needs hv_vmbus/);
    assert.match(q.output, new RegExp(`hypatia-init: modules: ${loadable.length} loaded, 1 failed, ${needsVmbus.size - 1} skipped`));

    const mark = q.output.length;
    q.type('echo hypatia-$((6*7)); tty; echo mods: $(cut -d" " -f1 /proc/modules | sort | tr "\\n" " ")');
    await q.waitFor(/^hypatia-42\r?$/m, 30_000, mark);
    await q.waitFor(/^\/dev\/ttyS0\r?$/m, 30_000, mark); // the shell's controlling terminal is the serial console
    const mods = await q.waitFor(/^mods: (.*?)\s*\r?$/m, 30_000, mark);
    assert.deepEqual(mods[1].split(' ').filter((s) => s), [...loadable].sort());
    q.type('poweroff -f');
    assert.equal(await q.exited, 0);
  });

  it('a variant initramfs runs the program hypatia.run names, then still offers the shell', async () => {
    const src = path.join(tmp, 'probe.c');
    fs.writeFileSync(src, '#include <stdio.h>\nint main(int argc, char **argv) { printf("probe: argc=%d arg1=%s\\n", argc, argv[1]); return 7; }\n');
    const exe = path.join(tmp, 'probe');
    execFileSync('cc', ['-static', '-O1', '-o', exe, src]);
    const variant = path.join(tmp, 'variant.img');
    fs.writeFileSync(variant, buildInitramfs({ base: images.initrd, files: [{ path: '/usr/local/bin/probe', source: exe }] }));
    const q = boot(variant, 'hypatia.run=/usr/local/bin/probe,hello');
    await q.waitFor(/^hypatia-init: exit status 7\r?$/m);
    assert.match(q.output, /^probe: argc=2 arg1=hello\r?$/m);
    assert.ok(q.output.indexOf(READY_MARKER) < q.output.indexOf('probe: argc'), 'the program runs after the ready marker');
    const mark = q.output.length;
    q.type('echo still-$((40+2))');
    await q.waitFor(/^still-42\r?$/m, 30_000, mark);
    q.type('poweroff -f');
    assert.equal(await q.exited, 0);
  });
});
