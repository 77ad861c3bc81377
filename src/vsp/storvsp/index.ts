// storvsp: the synthetic SCSI controller over VMBus (storvsc's host side) and the SCSI target it carries.
export { Storvsp, DEFAULT_MAX_TRANSFER_BYTES, MAX_PENDING_COMPLETIONS } from './storvsp.js';
export type { StorvspOptions } from './storvsp.js';
export * as vstor from './protocol.js';
export { STORVSC_CLASS_ID } from './protocol.js';
export * from './scsi/index.js';
