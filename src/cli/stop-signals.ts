// SIGINT and SIGTERM while a VM runs. The first stops the VM: the worker ends the run at its next slice (10 ms
// of guest time), the terminal is restored, and hypatia then ends by that same signal (run-exit.ts). A second
// signal, while the first is still being honoured, ends the process at once (terminal restored first).
// SIGTERM will later ask the guest to shut down through the shutdown integration component (VMBus milestone):
// VmWorker.requestGuestShutdown is that place; today it reports it cannot, and the VM is stopped instead.
// On a terminal in raw mode Ctrl-C is not a signal at all: it is a key for the guest (as in QEMU); Ctrl-A x quits.
import type { VmWorker } from '../vmwp/index.js';

type StopSignal = 'SIGINT' | 'SIGTERM';

/** Install the handlers; the returned function removes them. */
export function handleStopSignals(worker: VmWorker, stderr: { write(text: string): unknown }): () => void {
  let received = 0;
  const onSignal = (signal: StopSignal): void => {
    received++;
    if (received > 1) {
      stderr.write(`hypatia: ${signal} again: exiting now\n`);
      detach();
      if (process.stdin.isTTY) process.stdin.setRawMode(false);
      process.kill(process.pid, signal);
      return;
    }
    if (signal === 'SIGTERM' && worker.requestGuestShutdown()) {
      stderr.write('hypatia: SIGTERM: asked the guest to shut down (send it again to stop the VM at once)\n');
      return;
    }
    worker.requestStop(signal);
  };
  const detach = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return detach;
}
