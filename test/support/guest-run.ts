// Runs a test guest and parses what it printed. Guests print TAP-like lines over COM1:
//   ok N - <what>[: <details>]      not ok N - <what>[: <details>]      # <comment>
// and end by writing a status byte to the isa-debug-exit port (0 = every check passed).
//
// runGuest boots the guest the way users do: `node bin/hypatia.js run --kernel <elf>` as a child process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './guest-build.js';

export interface CheckLine { ok: boolean; n: number; what: string; details: string; line: string }

export interface GuestResult {
  output: string;
  checks: CheckLine[];
  /** The byte the guest wrote to port 0xf4, or undefined if it never did. */
  exitValue: number | undefined;
  /** How the run ended: "exit" (debug-exit port), or what else stopped it. */
  reason: string;
  /** What the runner printed besides the guest's output (CLI diagnostics). */
  stderr: string;
  /** Host wall time of the run, in milliseconds. */
  ms: number;
}

export function parseChecks(output: string): CheckLine[] {
  const checks: CheckLine[] = [];
  for (const line of output.split('\n')) {
    const m = /^(not ok|ok) (\d+) - (.*)$/.exec(line.replace(/\r$/, ''));
    if (m === null) continue;
    const rest = m[3];
    const k = rest.indexOf(': ');
    checks.push({
      ok: m[1] === 'ok', n: Number(m[2]), what: k < 0 ? rest : rest.slice(0, k), details: k < 0 ? '' : rest.slice(k + 2), line,
    });
  }
  return checks;
}

/** Boot the guest with `hypatia run` and collect COM1. The exit status of a debug-exit write v is (v << 1) | 1. */
export function runGuest(elf: string, memory = '64M', timeoutMs = 120_000, extraArgs: string[] = []): GuestResult {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'hypatia.js'), 'run', '--kernel', elf, '--memory', memory, ...extraArgs], {
    encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20,
  });
  const ms = Date.now() - t0;
  const output = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  let reason: string;
  let exitValue: number | undefined;
  if (r.error !== undefined) reason = `spawn error: ${r.error.message}`;
  else if (r.signal !== null) reason = `killed by ${r.signal}`;
  else if (/triple fault|error/i.test(stderr)) reason = `hypatia: ${stderr.trim()}`;
  else if (r.status !== null && (r.status & 1) === 1) { reason = 'exit'; exitValue = r.status >> 1; }
  else reason = `exit status ${String(r.status)}`;
  return { output, checks: parseChecks(output), exitValue, reason, stderr, ms };
}

