// Builds the freestanding test guests (test/guests/*.c|*.S plus the runtime in test/guests/runtime/) with the
// system C compiler and linker, caching the ELF by a hash of everything that goes into it. Nothing built here
// is committed: the cache lives in .cache/guests (git-ignored).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file runs from dist/test/support/). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const GUESTS_DIR = join(REPO_ROOT, 'test', 'guests');
const RUNTIME_DIR = join(GUESTS_DIR, 'runtime');
const CACHE_DIR = join(REPO_ROOT, '.cache', 'guests');

export const CFLAGS = [
  '-m64', '-std=gnu11', '-O1', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter',
  '-ffreestanding', '-fno-builtin', '-nostdlib', '-fno-stack-protector', '-fno-pic', '-fno-pie',
  '-mcmodel=small', '-mno-red-zone', '-mgeneral-regs-only', '-mno-sse', '-mno-mmx',
  '-fno-asynchronous-unwind-tables', '-fno-unwind-tables', '-fcf-protection=none',
  '-fno-tree-loop-distribute-patterns', '-fno-omit-frame-pointer',
];
const LDFLAGS = ['-nostdlib', '-static', '-no-pie', '--build-id=none', '-z', 'noexecstack', '-z', 'max-page-size=4096'];

function tool(name: string): string {
  return process.env[`HYPATIA_${name.toUpperCase()}`] ?? name;
}

let toolVersion: string | undefined;
function toolchainId(): string {
  toolVersion ??= [tool('gcc'), tool('ld')].map((t) => execFileSync(t, ['--version'], { encoding: 'utf8' }).split('\n')[0]).join('|');
  return toolVersion;
}

function runtimeSources(): string[] {
  return readdirSync(RUNTIME_DIR).filter((f) => /\.(c|S)$/.test(f)).sort().map((f) => join(RUNTIME_DIR, f));
}

function runtimeInputs(): string[] {
  return readdirSync(RUNTIME_DIR).filter((f) => /\.(c|S|h|ld)$/.test(f)).sort().map((f) => join(RUNTIME_DIR, f));
}

/** Names of the guests: test/guests/<name>.c or <name>.S. */
export function guestNames(): string[] {
  return readdirSync(GUESTS_DIR).filter((f) => /\.(c|S)$/.test(f)).map((f) => f.replace(/\.(c|S)$/, '')).sort();
}

function guestSource(name: string): string {
  for (const ext of ['.c', '.S']) {
    const p = join(GUESTS_DIR, name + ext);
    if (existsSync(p)) return p;
  }
  throw new Error(`no guest source test/guests/${name}.c or .S`);
}

/**
 * Build a guest and return the path of its ELF. Rebuilds only when a source, header, the linker script, the
 * flags or the toolchain changed. Safe to call from concurrent test processes (build in a private directory,
 * then rename into place).
 */
export function buildGuest(name: string): string {
  const src = guestSource(name);
  const inputs = [src, ...runtimeInputs()];
  const h = createHash('sha256');
  h.update(toolchainId()).update('\0').update(CFLAGS.join(' ')).update('\0').update(LDFLAGS.join(' '));
  for (const f of inputs) h.update('\0').update(f.slice(REPO_ROOT.length)).update('\0').update(readFileSync(f));
  const hash = h.digest('hex').slice(0, 16);
  const out = join(CACHE_DIR, `${name}-${hash}.elf`);
  if (existsSync(out)) return out;

  const work = join(CACHE_DIR, `tmp-${name}-${hash}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const objs: string[] = [];
    for (const s of [...runtimeSources(), src]) {
      const o = join(work, `${objs.length}.o`);
      execFileSync(tool('gcc'), [...CFLAGS, '-I', RUNTIME_DIR, '-c', s, '-o', o], { stdio: ['ignore', 'pipe', 'pipe'] });
      objs.push(o);
    }
    const elf = join(work, 'guest.elf');
    execFileSync(tool('ld'), [...LDFLAGS, '-T', join(RUNTIME_DIR, 'guest.ld'), '-o', elf, ...objs], { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(elf, out);
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`building guest ${name} failed: ${err.stderr?.toString() ?? err.message}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}
