// qemu-img and qemu-io, the independent implementation the storage tests compare against. Installed on demand
// (Debian package qemu-utils) so a clean CI machine needs no manual step; a lock directory keeps parallel test
// files from running apt-get at the same time.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function haveQemu(): boolean {
  const r = spawnSync('qemu-img', ['--version'], { encoding: 'utf8' });
  return r.status === 0 && spawnSync('qemu-io', ['--version']).status === 0;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let ready = false;

/** Makes sure qemu-img and qemu-io are on PATH, installing qemu-utils with apt-get if they are not. */
export function ensureQemuTools(): void {
  if (ready || haveQemu()) { ready = true; return; }
  const lock = path.join(os.tmpdir(), 'hypatia-qemu-utils.lock');
  const deadline = Date.now() + 10 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (haveQemu()) { ready = true; return; }
      // A lock left behind by a killed run is stale after a few minutes.
      try { if (Date.now() - fs.statSync(lock).mtimeMs > 5 * 60 * 1000) fs.rmSync(lock, { recursive: true, force: true }); } catch { /* gone */ }
      if (Date.now() > deadline) throw new Error('timed out waiting for another test to install qemu-utils');
      sleep(500);
    }
  }
  try {
    if (!haveQemu()) {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync('sh', ['-c', 'apt-get update && apt-get install -y --no-install-recommends qemu-utils'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  if (!haveQemu()) throw new Error('qemu-utils installed but qemu-img/qemu-io still not found');
  ready = true;
}

export interface RunResult { status: number; stdout: string; stderr: string }

export function qemuImg(...args: string[]): RunResult {
  ensureQemuTools();
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs qemu-img and throws (with its stderr) unless it exits 0. */
export function qemuImgOk(...args: string[]): string {
  const r = qemuImg(...args);
  if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Runs qemu-io commands (-c each) on an image; throws if qemu-io fails or reports a failed command. */
export function qemuIo(file: string, format: string, cmds: string[]): string {
  ensureQemuTools();
  const args = ['-f', format];
  for (const c of cmds) args.push('-c', c);
  args.push(file);
  const r = spawnSync('qemu-io', args, { encoding: 'utf8' });
  const out = r.stdout + r.stderr;
  if (r.status !== 0 || /failed|Pattern verification|error/i.test(out)) throw new Error(`qemu-io ${cmds.join('; ')} on ${file}: ${out}`);
  return out;
}

/** `qemu-img check` on an image; returns its output, throwing unless the image is clean. */
export function qemuCheckClean(file: string, format: string): string {
  const r = qemuImg('check', '-f', format, file);
  if (r.status !== 0 || !/No errors were found/.test(r.stdout)) throw new Error(`qemu-img check ${file}: ${r.status} ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Flattens an image to raw with qemu-img and returns the bytes. */
export function qemuToRaw(file: string, format: string): Buffer {
  const out = `${file}.qemu-raw`;
  fs.rmSync(out, { force: true });
  qemuImgOk('convert', '-f', format, '-O', 'raw', file, out);
  try {
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(out, { force: true });
  }
}

/** Whether qemu reads `file` exactly like the raw file `raw` (qemu-img compare, strict size check). */
export function qemuCompare(file: string, format: string, raw: string): void {
  const r = qemuImg('compare', '-f', format, '-F', 'raw', file, raw);
  if (r.status !== 0) throw new Error(`qemu-img compare ${file} ${raw}: ${r.status} ${r.stdout}${r.stderr}`);
}
