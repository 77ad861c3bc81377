// Builds test/vmwp/reset-guest.c (a freestanding guest, see its header) with the system compiler, and runs it in
// a VmWorker with its console collected, so tests can watch boots come and go.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VmWorker, type ResetAction, type VmExit } from '../../src/vmwp/index.js';

const ROOT = resolve('.');

let built: string | undefined;
export function resetGuestElf(): string {
  if (built !== undefined) return built;
  const out = join(ROOT, '.cache', 'vmwp-test');
  mkdirSync(out, { recursive: true });
  const elf = join(out, `reset-guest-${process.pid}.elf`);
  execFileSync('cc', [
    '-ffreestanding', '-nostdlib', '-static', '-no-pie', '-fno-pic', '-O1', '-fno-builtin', '-fno-stack-protector',
    '-fcf-protection=none', '-mno-red-zone', '-mgeneral-regs-only', '-fno-asynchronous-unwind-tables', '-Wall', '-Werror',
    '-Wl,-Ttext=0x200000', '-Wl,-e,_start', '-Wl,--build-id=none', '-Wl,-z,noexecstack',
    '-o', elf, join(ROOT, 'test', 'vmwp', 'reset-guest.c'),
  ], { stdio: 'pipe' });
  built = elf;
  return elf;
}

export interface GuestRun { exit: VmExit; out: string; trace: string; boots: number; worker: VmWorker }

/**
 * Run the guest with `cmd` on its command line. `stopAfterBoots`: ask the worker to stop (as a signal would) once
 * that many "boot:" lines have appeared and the last boot has printed its "cmd:" line.
 */
export async function runResetGuest(cmd: string, onReset?: ResetAction, stopAfterBoots?: number): Promise<GuestRun> {
  let out = '';
  let trace = '';
  let worker: VmWorker | null = null;
  const output = {
    write(b: Uint8Array): void {
      out += Buffer.from(b).toString('latin1');
      if (stopAfterBoots !== undefined && worker !== null && (out.match(/^cmd: /gm) ?? []).length >= stopAfterBoots) worker.requestStop('host');
    },
  };
  worker = VmWorker.create({ memoryBytes: 64 << 20, kernel: readFileSync(resetGuestElf()), cmdline: cmd, onReset },
    { input: null, output, trace: { write: (t: string) => { trace += t; } } });
  const exit = await worker.run();
  return { exit, out, trace, boots: worker.boots, worker };
}

/** The "boot:" / "dirty:" lines of a run as field maps. */
export function stateLines(out: string, tag: 'boot' | 'dirty'): Record<string, string>[] {
  return out.split('\n').filter((l) => l.startsWith(tag + ':')).map((l) => Object.fromEntries(l.slice(tag.length + 2).split(' ').map((f) => f.split('=') as [string, string])));
}
