// VMWP: the worker that builds and runs one VM.
export { VmWorker, MAX_GUEST_MEMORY, type VmExit, type WorkerStreams } from './vm-worker.js';
export { VmConfigError, type VmConfig } from './vm-config.js';
export { SerialConsole, type ConsoleInput, type ConsoleOutput } from './serial-console.js';
