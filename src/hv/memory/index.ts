// SPA memory and per-partition GPA maps.
export { SystemMemory, SystemMemoryError, PageAllocator, PAGE_SIZE, MAX_SYSTEM_MEMORY } from './system-memory.js';
export { GpaMap, RIGHTS_RWX } from './gpa-map.js';
