// ACPICA's iasl, the external judge of our ACPI tables and AML. Installed on demand (Debian package
// acpica-tools) so a clean machine needs no manual step; a lock directory keeps parallel test files from
// running apt-get at the same time.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const haveIasl = (): boolean => spawnSync('iasl', ['-v'], { encoding: 'utf8' }).status === 0;
const sleep = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };
let ready = false;

export function ensureIasl(): void {
  if (ready || haveIasl()) { ready = true; return; }
  const lock = path.join(os.tmpdir(), 'hypatia-acpica-tools.lock');
  const deadline = Date.now() + 10 * 60 * 1000;
  for (;;) {
    try { fs.mkdirSync(lock); break; } catch {
      if (haveIasl()) { ready = true; return; }
      try { if (Date.now() - fs.statSync(lock).mtimeMs > 5 * 60 * 1000) fs.rmSync(lock, { recursive: true, force: true }); } catch { /* gone */ }
      if (Date.now() > deadline) throw new Error('timed out waiting for another test to install acpica-tools');
      sleep(500);
    }
  }
  try {
    if (!haveIasl()) {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      execFileSync('sh', ['-c', 'apt-get update && apt-get install -y --no-install-recommends acpica-tools'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  if (!haveIasl()) throw new Error('acpica-tools installed but iasl still not found');
  ready = true;
}

export interface IaslRun { status: number; output: string }

/** Run iasl in `dir` (it writes its outputs beside the inputs). */
export function iasl(dir: string, ...args: string[]): IaslRun {
  ensureIasl();
  const r = spawnSync('iasl', args, { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** A fresh scratch directory under .cache/. */
export function scratch(name: string): string {
  const dir = path.resolve('.cache', 'firmware-test', `${name}-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
