// How `hypatia run` reports the way a VM ended: one line on stderr when there is something to say, and the
// exit status. The statuses (also in RUN_HELP): a guest's isa-debug-exit write of v gives (v << 1) | 1, always
// odd; everything else is even, so a passing test guest (1) is never confused with a host-side outcome.
import { constants } from 'node:os';
import { describeCrash, type VmExit } from '../vmwp/index.js';

export const ExitStatus = {
  /** The guest powered off (ACPI S5), halted with interrupts disabled, or the user quit. */
  OK: 0,
  /** Bad input: usage, an unreadable or invalid kernel or initrd, a bad memory size. */
  BAD_INPUT: 2,
  /** A triple fault, with --on-reset stop. */
  TRIPLE_FAULT: 4,
  /** A reset through the ACPI reset register, with --on-reset stop. */
  RESET: 6,
  /** The guest panicked (crash MSRs, or a panic line on its console right before a reset). */
  PANIC: 8,
} as const;

/** Report `exit` on stderr and give the status. A run the host stopped ends by its signal (see stopBySignal). */
export function exitStatus(exit: VmExit, stderr: { write(text: string): unknown }): number {
  switch (exit.kind) {
    case 'debug-exit': return exit.code;
    case 'power-off': return ExitStatus.OK;
    case 'quit': return ExitStatus.OK;
    case 'halt':
      stderr.write(`hypatia: guest halted with interrupts disabled at rip ${exit.rip}; powering off\n`);
      return ExitStatus.OK;
    case 'reset':
      stderr.write('hypatia: guest reset (ACPI reset register); stopping (--on-reset stop)\n');
      return ExitStatus.RESET;
    case 'triple-fault':
      stderr.write(`hypatia: guest triple fault (unrecoverable exception) at rip ${exit.rip}; powering off\n`);
      return ExitStatus.TRIPLE_FAULT;
    case 'panic':
      stderr.write(`hypatia: ${describeCrash(exit.crash)}\n`);
      return ExitStatus.PANIC;
    case 'stopped':
      return exit.reason === 'host' ? ExitStatus.OK : 128 + constants.signals[exit.reason];
  }
}

/**
 * End the process by `signal` with its default action, as a program that catches a signal to clean up should
 * (the parent sees "killed by SIGTERM"; a shell prints status 128 + n: 130 for SIGINT, 143 for SIGTERM). The
 * caller has removed its own listeners; nothing runs after this returns except in the unlikely case the signal
 * is ignored, where the caller's fallback status (128 + n) stands.
 */
export function endBySignal(signal: 'SIGINT' | 'SIGTERM'): void {
  process.kill(process.pid, signal);
}
