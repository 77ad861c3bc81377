// The Hyper-V guest interface of a child partition: CPUID leaves, synthetic MSRs, the hypercall page, the
// reference counter and reference TSC page, the guest crash registers, and the hypercalls a guest may make.
export { HvCpuidLeaf, HV_MAX_LEAF, HV_VERSION, CPUID1_ECX_HYPERVISOR, composeChildCpuid, updateFeatureLeaf } from './cpuid-leaves.js';
export { IMPLEMENTED_PRIVILEGES, CHILD_DEFAULT_PRIVILEGES, FeaturesEdx, Hints, LONG_SPIN_WAIT_NEVER, usable } from './features.js';
export { HvMsr, HypercallMsr, ReferenceTscMsr, CrashCtl } from './msrs.js';
export { CrashRegisters } from './crash-msrs.js';
export { HYPERCALL_PAGE_CODE, fillHypercallPage } from './hypercall-page.js';
export { TscPageLayout, TSC_SEQUENCE_INVALID, referenceTscScale, referenceTime, nextTscSequence } from './reference-tsc.js';
export { PartitionEnlightenments } from './partition-state.js';
export { VpEnlightenments, VpAssistMsr } from './apic-msrs.js';
export { readSyntheticMsr, writeSyntheticMsr, MSR_DONE, MSR_DONE_FORWARD, MSR_GP, MSR_NOT_SYNTHETIC } from './synthetic-msrs.js';
export { notifyLongSpinWait, getPartitionId } from './guest-calls.js';
