// The hypercall interface: codes, layouts, register names and the dispatcher.
export * from './codes.js';
export * from './layouts.js';
export { HvRegister, registerTarget, type RegisterTarget, type SegmentName } from './registers.js';
export { HypercallDispatcher } from './dispatcher.js';
