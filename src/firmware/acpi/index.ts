// ACPI tables for direct boot, and the AML builder other components use to describe their devices.
export * from './aml.js';
export { resourceTemplate, ioPort, memory32Fixed, qwordMemory, type QWordMemoryOptions } from './aml-resources.js';
export { byteSum, fixChecksum } from './checksum.js';
export { sdt, SDT_HEADER_SIZE } from './sdt-header.js';
export { buildRsdp, RSDP_SIZE } from './rsdp.js';
export { buildXsdt } from './xsdt.js';
export { buildFacs, FACS_SIZE } from './facs.js';
export { buildFadt, FADT, FADT_FLAGS, FADT_SIZE, IAPC_BOOT_ARCH, type FadtConfig } from './fadt.js';
export { buildMadt, IOAPIC_ADDRESS, LOCAL_APIC_ADDRESS, INTI_ACTIVE_HIGH, INTI_ACTIVE_LOW, INTI_EDGE, INTI_LEVEL, type MadtConfig, type InterruptOverride } from './madt.js';
export { buildDsdt, dsdtBody, processorDevice, DSDT_REVISION, type DsdtConfig } from './dsdt.js';
export { buildAcpiTables, defaultAcpiPlatform, type AcpiPlatform, type AcpiTables, type PlacedTable } from './platform.js';
export { vmbusAcpiDevices, VMBUS_MMIO_LOW, type VmbusAcpiConfig, type MmioRange } from './vmbus-device.js';
