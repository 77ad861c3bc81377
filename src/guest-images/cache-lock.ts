// One fetch at a time per cache directory (the CLI and parallel test files share it): a lock directory
// holding the owner's pid. A lock whose owner is no longer running is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestImageError } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Acquires `<dir>/.lock`, waiting up to timeoutMs for another holder; returns the release function. */
export async function lockCache(dir: string, timeoutMs: number, onWait?: (pid: number) => void): Promise<() => void> {
  const lock = join(dir, '.lock');
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = 0;
    try { pid = Number(readFileSync(join(lock, 'pid'), 'utf8')); } catch { /* being created or removed */ }
    if (pid > 0 && pid !== process.pid && !alive(pid)) {
      rmSync(lock, { recursive: true, force: true }); // left by a killed fetch
      continue;
    }
    if (Date.now() > deadline) throw new GuestImageError('lock', `another fetch (pid ${pid || '?'}) holds ${lock}; remove it if that process is gone`);
    if (!told && pid > 0) { onWait?.(pid); told = true; }
    await new Promise((r) => setTimeout(r, 250));
  }
}
