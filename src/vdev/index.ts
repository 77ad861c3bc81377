// VDevs: emulated legacy devices served through intercepts, and the dispatch tables they register with.
export { PortBus, type PortDevice, type PortRange } from './port-bus.js';
export { MmioBus, type MmioDevice } from './mmio-bus.js';
export { Uart16550, COM1_PORT, COM1_IRQ } from './uart16550.js';
export { DebugExit, DEBUG_EXIT_PORT } from './debug-exit.js';
export { IoApic, IOAPIC_BASE, IOAPIC_MMIO_SIZE, IOAPIC_PINS, IOAPIC_VERSION, Redir, type InterruptSink } from './ioapic.js';
export { AcpiPm, PM1_CNT_SCI_EN, PM1_CNT_SLP_EN, PM1_CNT_SLP_TYP_SHIFT, type AcpiPmConfig, type AcpiPmEvents } from './acpi-pm.js';
