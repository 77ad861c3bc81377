// The hypervisor: partitions, SPA memory and GPA maps, VPs, intercepts, the hypercall API.
export { Hypervisor, ROOT_PARTITION_ID, type HypervisorOptions, type RootInterface } from './hypervisor.js';
export { Partition, PartitionState, MAX_VPS_PER_PARTITION, type InterceptHandler } from './partition.js';
export { VirtualProcessor, DispatchResult } from './virtual-processor.js';
export { InterceptMessage, HvMessageType, InterceptAccessType, MessageLayout } from './intercept-message.js';
export { Privilege, PrivilegeMask, ROOT_PRIVILEGES, ROOT_ONLY_PRIVILEGES } from './privileges.js';
export {
  VIRTUAL_TSC_HZ, TSC_TICKS_PER_INSTRUCTION, INSTRUCTIONS_PER_100NS, REFERENCE_TIME_HZ, TSC_TICKS_PER_100NS, APIC_TIMER_HZ,
} from './virtual-time.js';
export * from './memory/index.js';
export * from './hypercall/index.js';
export * from './enlightenments/index.js';
