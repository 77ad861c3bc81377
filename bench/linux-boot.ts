// Linux boot benchmark: the same Debian cloud kernel, initramfs and command line on Hypatia and on QEMU's
// software emulator (TCG), side by side. Reports seconds from start to the guest's first userspace line (the
// initramfs's /init log) and to power-off (/init runs `poweroff -f`, named on the command line).
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGuestImages, INIT_LOG_PREFIX } from '../src/guest-images/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', '..', 'bin', 'hypatia.js');
const APPEND = 'console=ttyS0 panic=-1 cryptomgr.notests hypatia.run=poweroff,-f';
const MEMORY = '512M';
const TIMEOUT_MS = 15 * 60 * 1000;

interface BootRun {
  firstUserLine?: number;
  powerOff?: number;
  status: string;
  tail: string;
}

function timeBoot(cmd: string, args: string[]): Promise<BootRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const run: BootRun = { status: '', tail: '' };
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    const onData = (b: Buffer): void => {
      out += b.toString('latin1');
      if (run.firstUserLine === undefined && out.includes(INIT_LOG_PREFIX)) run.firstUserLine = (performance.now() - t0) / 1000;
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const t = (performance.now() - t0) / 1000;
      if (code === 0 && run.firstUserLine !== undefined) run.powerOff = t;
      run.status = signal !== null ? `killed (${signal}) after ${t.toFixed(1)} s` : `exit ${code} after ${t.toFixed(1)} s`;
      run.tail = out.split('\n').slice(-4).join(' | ').slice(0, 300);
      resolve(run);
    });
  });
}

function ensureQemu(): string | null {
  const have = (): boolean => spawnSync('qemu-system-x86_64', ['--version']).status === 0;
  if (have()) return 'qemu-system-x86_64';
  console.log('installing qemu-system-x86 from Debian for the comparison...');
  spawnSync('apt-get', ['update'], { stdio: 'ignore' });
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'qemu-system-x86'], { stdio: 'ignore' });
  return r.status === 0 && have() ? 'qemu-system-x86_64' : null;
}

function fmt(v: number | undefined): string {
  return v === undefined ? '—' : v.toFixed(2);
}

export async function benchLinuxBoot(): Promise<void> {
  const images = await ensureGuestImages({ log: (l) => console.log(`  ${l}`) });
  console.log(`kernel ${images.kernel}\ninitrd ${images.initrd}\ncommand line: ${APPEND}`);
  const rows: [string, BootRun][] = [];
  const qemu = ensureQemu();
  if (qemu !== null) {
    rows.push(['QEMU TCG (-M pc)', await timeBoot(qemu, ['-M', 'pc', '-accel', 'tcg', '-m', MEMORY, '-smp', '1',
      '-nographic', '-no-reboot', '-kernel', images.kernel, '-initrd', images.initrd, '-append', APPEND])]);
  } else {
    console.log('QEMU is not available and could not be installed: comparison skipped');
  }
  rows.push(['Hypatia software VP', await timeBoot(process.execPath, [CLI, 'run', '--kernel', images.kernel,
    '--initrd', images.initrd, '--append', APPEND, '--memory', MEMORY])]);
  console.log(`${'engine'.padEnd(22)} ${'first user line (s)'.padStart(20)} ${'power-off (s)'.padStart(14)}  outcome`);
  for (const [name, r] of rows) {
    console.log(`${name.padEnd(22)} ${fmt(r.firstUserLine).padStart(20)} ${fmt(r.powerOff).padStart(14)}  ${r.status}`);
  }
  const [q, h] = [rows.find((r) => r[0].startsWith('QEMU'))?.[1], rows.find((r) => r[0].startsWith('Hypatia'))?.[1]];
  if (q?.powerOff !== undefined && h?.powerOff !== undefined) {
    console.log(`ratio Hypatia/QEMU: first user line ${(h.firstUserLine! / q.firstUserLine!).toFixed(1)}x, power-off ${(h.powerOff / q.powerOff).toFixed(1)}x`);
  } else if (h !== undefined && h.powerOff === undefined) {
    console.log(`Hypatia did not complete the boot: ${h.tail}`);
  }
}
