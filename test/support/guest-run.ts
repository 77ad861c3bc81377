// Runs a test guest and parses what it printed. Guests print TAP-like lines over COM1:
//   ok N - <what>[: <details>]      not ok N - <what>[: <details>]      # <comment>
// and end by writing a status byte to the isa-debug-exit port (0 = every check passed).
import { runGuestBare } from './guest-bare.js';
import type { CpuidTable } from '../../src/vp/index.js';

export interface CheckLine { ok: boolean; n: number; what: string; details: string; line: string }

export interface GuestResult {
  output: string;
  checks: CheckLine[];
  /** The byte the guest wrote to port 0xf4, or undefined if it never did. */
  exitValue: number | undefined;
  /** How the run ended (exit, hlt, triple-fault, budget...). */
  reason: string;
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

export function runGuest(elf: string, cpuid?: CpuidTable): GuestResult {
  const t0 = Date.now();
  const r = runGuestBare(elf, cpuid);
  return { output: r.output, checks: parseChecks(r.output), exitValue: r.exitValue, reason: r.reason, ms: Date.now() - t0 };
}
