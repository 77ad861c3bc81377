// VMWP: the worker that builds and runs one VM.
export { VmWorker, MAX_GUEST_MEMORY, type VmExit, type StopReason, type WorkerStreams } from './vm-worker.js';
export { VmConfigError, type VmConfig, type ResetAction, type ClockMode } from './vm-config.js';
export { VmMachine, type MachineEvents } from './vm-machine.js';
export { describeCrash, type GuestCrash } from './guest-crash.js';
export { PanicWatch } from './panic-watch.js';
export { SerialConsole, type ConsoleInput, type ConsoleOutput } from './serial-console.js';
