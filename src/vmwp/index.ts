// VMWP: the worker that builds and runs one VM.
export { VmWorker, MAX_GUEST_MEMORY, type VmExit, type StopReason, type WorkerStreams } from './vm-worker.js';
export { VmConfigError, type VmConfig, type ResetAction, type ClockMode, VMBUS_VERSION_NAMES, vmbusVersionOf } from './vm-config.js';
export { VmMachine, type MachineEvents } from './vm-machine.js';
export { VmbusHost, type VmbusHostOptions } from './vmbus-host.js';
export { LogLimiter } from './log-limiter.js';
export { describeCrash, type GuestCrash } from './guest-crash.js';
export { PanicWatch } from './panic-watch.js';
export { SerialConsole, type ConsoleInput, type ConsoleOutput } from './serial-console.js';
export { ControlServer, type ControlTarget, type ControlServerOptions } from './control-server.js';
export {
  ControlError, CONTROL_OPS, CONTROL_PROTOCOL_VERSION, encodeReply, encodeRequest, KVP_POOLS, MAX_REQUEST_BYTES, parsePool, parseReply, parseRequest,
  type ControlErrorCode, type ControlOp, type ControlReply, type ControlRequest, type RequestId,
} from './control-protocol.js';
export { vmControlTarget, type VmControlOptions } from './control-target.js';
