// VID: partition, VP and memory management for the root, built on WinHv.
export { VidPartition, type VidPartitionConfig, type InterruptOptions, type VidSynicPort, type VidGuestPages } from './vid-partition.js';
export { GuestMemory } from './guest-memory.js';
export { VidError } from './vid-error.js';
export { initialStateRegisters, type X64InitialState, type X64Segment, type X64Table } from './x64-state.js';
