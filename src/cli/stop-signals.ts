// SIGINT and SIGTERM while a VM runs.
//   SIGTERM asks the guest to shut down through the shutdown integration service (VmWorker.requestGuestShutdown)
//     and gives it `shutdownTimeoutMs` to power off; a guest that powers off ends the run with status 0. When the
//     time runs out the VM is stopped and hypatia ends by SIGTERM. A guest without the service (hv_utils not
//     loaded, an ELF test kernel) is stopped at once instead, as SIGINT does.
//   SIGINT stops the VM: the worker ends the run at its next slice (10 ms of guest time), the terminal is
//     restored, and hypatia then ends by SIGINT (run-exit.ts).
//   Another signal while a shutdown is pending stops the VM at once; one more while the stop is being honoured
//     ends the process at once (terminal restored first).
// On a terminal in raw mode Ctrl-C is not a signal at all: it is a key for the guest (as in QEMU); Ctrl-A x quits.
import type { VmWorker } from '../vmwp/index.js';

type StopSignal = 'SIGINT' | 'SIGTERM';

/** The default time a guest gets to power off after SIGTERM. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

export interface StopSignalOptions {
  /** How long the guest may take to power off after SIGTERM asked it to shut down. */
  shutdownTimeoutMs?: number;
}

type Phase = 'running' | 'shutting-down' | 'stopping';

/** Install the handlers; the returned function removes them. */
export function handleStopSignals(worker: VmWorker, stderr: { write(text: string): unknown }, options: StopSignalOptions = {}): () => void {
  const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let phase: Phase = 'running';
  let timer: ReturnType<typeof setTimeout> | null = null;
  const clearTimer = () => { if (timer !== null) { clearTimeout(timer); timer = null; } };
  const stop = (signal: StopSignal) => {
    clearTimer();
    phase = 'stopping';
    worker.requestStop(signal);
  };
  const onSignal = (signal: StopSignal): void => {
    if (phase === 'stopping') {
      stderr.write(`hypatia: ${signal} again: exiting now\n`);
      detach();
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      process.kill(process.pid, signal);
      return;
    }
    if (phase === 'shutting-down') {
      stderr.write(`hypatia: ${signal} during the guest's shutdown: stopping the VM now\n`);
      stop(signal);
      return;
    }
    if (signal === 'SIGTERM') {
      if (worker.requestGuestShutdown()) {
        phase = 'shutting-down';
        stderr.write(`hypatia: SIGTERM: asked the guest to shut down; it has ${timeoutMs / 1000} s to power off (send a signal again to stop the VM at once)\n`);
        timer = setTimeout(() => {
          timer = null;
          if (phase !== 'shutting-down') return;
          stderr.write(`hypatia: the guest did not power off within ${timeoutMs / 1000} s; stopping the VM\n`);
          stop('SIGTERM');
        }, timeoutMs);
        return;
      }
      stderr.write('hypatia: SIGTERM: the guest has no shutdown service to ask (no VMBus, or hv_utils not loaded); stopping the VM\n');
    }
    stop(signal);
  };
  const detach = (): void => {
    clearTimer();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return detach;
}
