// The local APIC the hypervisor virtualizes for each VP, its timer, and interrupt routing within a partition.
export { LocalApic, highest, type ApicHost } from './local-apic.js';
export { ApicTimer, apicTimerDivisor, TSC_TICKS_PER_APIC_TICK } from './apic-timer.js';
export { apicBaseWriteAllowed, apicBaseAddress } from './apic-base.js';
export { matchesDestination, type ApicIdentity } from './destination.js';
export { routeInterrupt, type HasApic } from './routing.js';
export * from './registers.js';
