// Smoke test with the real thing: Debian 12's cloud kernel (the guest images, fetched by src/guest-images when
// missing) booted by `hypatia run` from its bzImage with our initramfs. The decompressor must run and hand over
// to the kernel, and the kernel must read back what the firmware gave it: the command line, the e820 map, the
// initrd's place and every ACPI table, and Linux's own ACPICA must load our DSDT. The run is stopped there: how
// far the boot goes beyond depends on the processor and the platform devices, not on the firmware.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureGuestImages } from '../../src/guest-images/index.js';
import { parseElf64 } from '../../src/firmware/index.js';

const CLI = resolve('bin', 'hypatia.js');
const MEMORY_MIB = 256;
const TIMEOUT_MS = 240_000;
/** Printed once the kernel has listed and reserved every ACPI table (setup_arch, early). */
const TABLES = /ACPI: Reserving APIC table memory at \[mem 0x[0-9a-f]+-0x[0-9a-f]+\]\r?\n/;
/** Printed when ACPICA has parsed the DSDT into its namespace (acpi_load_tables, much later). */
const DONE = /ACPI: 1 ACPI AML tables successfully acquired and loaded\r?\n/;

interface Run { out: string; status: number | null; signal: NodeJS.Signals | null; ms: number }

function bootUntil(kernel: string, initrd: string, until: RegExp): Promise<Run> {
  return new Promise((done, fail) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, 'run', '--kernel', kernel, '--initrd', initrd, '--memory', `${MEMORY_MIB}M`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stopped = false;
    const timer = setTimeout(() => { child.kill('SIGKILL'); fail(new Error(`no ${until} within ${TIMEOUT_MS} ms:\n${out.slice(-4000)}`)); }, TIMEOUT_MS);
    const take = (b: Buffer): void => {
      out += b.toString('latin1');
      if (!stopped && until.test(out)) { stopped = true; child.kill('SIGTERM'); }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (status, signal) => { clearTimeout(timer); done({ out, status, signal, ms: Date.now() - t0 }); });
  });
}

const hex = (n: number, w = 16): string => '0x' + n.toString(16).padStart(w, '0');

/**
 * The ELF vmlinux inside the bzImage: its payload (boot.rst: payload_offset at 0x248, from the start of the
 * protected-mode code, and payload_length at 0x24C) is LZ4-compressed in Debian's build, followed by the
 * 4-byte uncompressed size; the lz4 tool (Debian package lz4, installed when missing) decompresses it.
 */
function extractVmlinux(bzImage: string): string {
  if (spawnSync('lz4', ['--version']).status !== 0) {
    execFileSync('sh', ['-c', 'apt-get update && apt-get install -y --no-install-recommends lz4'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const b = readFileSync(bzImage);
  const pm = ((b[0x1f1] === 0 ? 4 : b[0x1f1]) + 1) * 512;
  const off = pm + b.readUInt32LE(0x248), len = b.readUInt32LE(0x24c);
  assert.deepEqual([...b.subarray(off, off + 4)], [0x02, 0x21, 0x4c, 0x18], 'an LZ4 legacy frame (CONFIG_KERNEL_LZ4)');
  const dir = resolve('.cache', 'firmware-test');
  mkdirSync(dir, { recursive: true });
  const lz = join(dir, `payload-${process.pid}.lz4`), elf = join(dir, `vmlinux-${process.pid}`);
  writeFileSync(lz, b.subarray(off, off + len - 4));
  execFileSync('lz4', ['-d', '-f', '-q', lz, elf]);
  rmSync(lz, { force: true });
  return elf;
}

test('the Debian bzImage decompresses, starts, reads our boot_params, e820 map and ACPI tables, and loads the DSDT', { timeout: TIMEOUT_MS + 60_000 }, async (t) => {
  const images = await ensureGuestImages();
  const run = await bootUntil(images.kernel, images.initrd, DONE);
  const out = run.out;
  t.diagnostic(`DSDT loaded after ${run.ms} ms of wall time`);
  assert.match(out, TABLES, out.slice(-3000));
  assert.equal(run.signal, 'SIGTERM', 'SIGTERM stops the VM and hypatia then ends by that signal');
  // The decompressor ran (64-bit entry at load address + 0x200) and jumped into the kernel proper.
  assert.match(out, /Linux version 6\.1\.\d+-\d+-cloud-amd64 .*Debian/);
  assert.match(out, /Command line: console=ttyS0 earlycon=uart8250,io,0x3f8 panic=-1\r?\n/, 'the default command line, through cmd_line_ptr');
  assert.match(out, /earlycon: uart8250 at I\/O port 0x3f8/);
  // The e820 map from the zero page, as the kernel prints it (inclusive ends).
  const end = MEMORY_MIB * 2 ** 20;
  const e820 = [...out.matchAll(/BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.+?)\r?\n/g)].map((m) => `${m[1]}-${m[2]} ${m[3]}`);
  assert.deepEqual(e820, [
    `${hex(0)}-${hex(0x9fbff)} usable`,
    `${hex(0x9fc00)}-${hex(0xdffff)} reserved`,
    `${hex(0xe0000)}-${hex(0xfffff)} ACPI data`,
    `${hex(0x100000)}-${hex(end - 1)} usable`,
  ]);
  // The initrd where the firmware put it: page-aligned at the top of RAM (the kernel prints the page-rounded end).
  const size = statSync(images.initrd).size;
  const at = Math.floor((end - size) / 4096) * 4096;
  assert.match(out, new RegExp(`RAMDISK: \\[mem ${hex(at, 8)}-${hex(at + Math.ceil(size / 4096) * 4096 - 1, 8)}\\]`));
  // Every ACPI table, found through boot_params.acpi_rsdp_addr, with its revision.
  assert.match(out, /ACPI: RSDP 0x00000000000E0000 000024 \(v02 HYPATI\)/);
  for (const [sig, rev] of [['XSDT', '01'], ['FACP', '06'], ['DSDT', '02'], ['APIC', '05']]) {
    assert.match(out, new RegExp(`ACPI: ${sig} 0x00000000000E[0-9A-F]{4} [0-9A-F]{6} \\(v${rev} HYPATI HYPATIA  00000001 HYPA 00000001\\)`), sig);
  }
  assert.equal((out.match(/ACPI: FACS 0x00000000000E0040 000040/g) ?? []).length, 1, 'one FACS (only X_FIRMWARE_CTRL is set)');
  // Linux's ACPICA parses our AML: the namespace holds the DSDT's objects.
  assert.match(out, DONE, out.slice(-3000));
  assert.doesNotMatch(out, /ACPI BIOS (Error|Warning)|Incorrect checksum|AE_AML|AE_BAD|Namespace lookup failure/i, 'ACPICA accepts the tables and the AML as they are');
});

test('the same kernel as an ELF vmlinux (extracted from the bzImage) starts at its physical entry and reads the same', { timeout: TIMEOUT_MS + 60_000 }, async () => {
  const images = await ensureGuestImages();
  const vmlinux = extractVmlinux(images.kernel);
  const elf = parseElf64(readFileSync(vmlinux));
  assert.ok(elf.segments.some((seg) => seg.vaddr >= 0xffffffff80000000n), 'linked in the kernel half: a real vmlinux');
  const run = await bootUntil(vmlinux, images.initrd, TABLES);
  rmSync(vmlinux, { force: true });
  const out = run.out;
  assert.match(out, TABLES, out.slice(-3000));
  assert.match(out, /Linux version 6\.1\.\d+-\d+-cloud-amd64 .*Debian/);
  assert.match(out, /Command line: console=ttyS0 earlycon=uart8250,io,0x3f8 panic=-1\r?\n/);
  assert.match(out, new RegExp(`BIOS-e820: \\[mem ${hex(0x100000)}-${hex(MEMORY_MIB * 2 ** 20 - 1)}\\] usable`));
  assert.match(out, /ACPI: RSDP 0x00000000000E0000 000024 \(v02 HYPATI\)/);
});
