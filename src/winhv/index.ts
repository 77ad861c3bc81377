// WinHv: the root's hypercall client, plus the hypercall vocabulary the root's components use.
export { WinHv, DispatchOutcome, type SynicMessageHandler, type SynicEventHandler, type RegisterValue, type SegmentRegister, type TableRegister, type CpuidLeaf } from './winhv.js';
export { HvError } from './hv-error.js';
export { RootPageAllocator } from './root-pages.js';
export {
  HvCall, HvStatus, HvRegister, HvMessageType, InterceptAccessType, InterceptType, InterceptAccess, MapGpaFlags,
  DispatchState, DispatchEvent, DispatchVpFlags, PartitionProperty, HvInterruptType, MessageLayout, INSTRUCTIONS_PER_100NS,
  VIRTUAL_TSC_HZ, MAX_SYSTEM_MEMORY, statusName, HvMsr, Privilege,
  type InterceptMessage, type InterceptHandler, type HypervisorOptions,
} from '../hv/index.js';
