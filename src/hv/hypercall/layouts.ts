// Binary layouts of hypercall inputs and outputs (TLFS; field offsets as in Linux include/hyperv/hvhdk.h,
// hvhdk_mini.h and hvgdk_mini.h, all little-endian and packed). Written once here, read by the hypervisor's
// handlers and by WinHv's encoders.

/** Hypercall input value (RCX on x64): TLFS "Hypercall Inputs". */
export const Control = {
  CODE_MASK: 0xffff,
  FAST: 1 << 16,
  /** Bits 17..26: variable header size in 8-byte units. */
  VARHDR_SHIFT: 17,
  VARHDR_MASK: 0x3ff,
  /** Low-word bits that must be zero: 27..31 (bit 31 is "nested", unsupported here). */
  RESERVED_LO: 0xf8000000 | 0,
  /** High word (bits 32..63): rep count in 32..43, rep start in 48..59; 44..47 and 60..63 reserved. */
  REP_COUNT_MASK: 0xfff,
  REP_START_SHIFT: 16,
  RESERVED_HI: 0xf000f000 | 0,
} as const;

/** Partition id meaning "the caller" (HV_PARTITION_ID_SELF). */
export const PARTITION_ID_SELF = 0xffffffffffffffffn;
export const VP_INDEX_SELF = 0xfffffffe;

/** HvCallCreatePartition input (hv_input_create_partition) and output. */
export const CreatePartitionIn = { flags: 0, proximity: 8, compatibilityVersion: 16, creationProperties: 24, isolation: 48, SIZE: 56 } as const;
export const CreatePartitionOut = { partitionId: 0, SIZE: 8 } as const;
/** Initialize/Finalize/Delete partition: a single u64 partition id. */
export const PartitionIdIn = { partitionId: 0, SIZE: 8 } as const;
export const GetPartitionPropertyIn = { partitionId: 0, propertyCode: 8, SIZE: 16 } as const;
export const GetPartitionPropertyOut = { value: 0, SIZE: 8 } as const;
export const SetPartitionPropertyIn = { partitionId: 0, propertyCode: 8, value: 16, SIZE: 24 } as const;

/** HvCallMapGpaPages header (hv_input_map_gpa_pages); a rep list of u64 source GPA page numbers follows. */
export const MapGpaPagesIn = { targetPartitionId: 0, targetGpaBase: 8, mapFlags: 16, SIZE: 24, REP_SIZE: 8 } as const;
/** HvCallUnmapGpaPages (hv_input_unmap_gpa_pages); the rep count is the page count, no list. */
export const UnmapGpaPagesIn = { targetPartitionId: 0, targetGpaBase: 8, unmapFlags: 16, SIZE: 24 } as const;

export const MapGpaFlags = {
  READABLE: 0x1,
  WRITABLE: 0x2,
  KERNEL_EXECUTABLE: 0x4,
  USER_EXECUTABLE: 0x8,
  EXECUTABLE: 0xc,
  PERMISSIONS_MASK: 0xf,
} as const;

/** HvCallCreateVp (hv_create_vp). */
export const CreateVpIn = { partitionId: 0, vpIndex: 8, subnodeType: 15, subnodeId: 16, proximity: 24, flags: 32, SIZE: 40 } as const;

/** HvCallGetVpRegisters / SetVpRegisters header; names (u32) or register associations (32 bytes) follow. */
export const VpRegistersIn = { partitionId: 0, vpIndex: 8, inputVtl: 12, SIZE: 16 } as const;
export const GET_REGISTERS_REP_IN = 4;
export const GET_REGISTERS_REP_OUT = 16;
/** hv_register_assoc: u32 name, u32 + u64 reserved, 16-byte value. */
export const RegisterAssoc = { name: 0, value: 16, SIZE: 32 } as const;
/** hv_x64_segment_register inside a register value. */
export const SegmentValueLayout = { base: 0, limit: 8, selector: 12, attributes: 14 } as const;
/** hv_x64_table_register inside a register value. */
export const TableValueLayout = { limit: 6, base: 8 } as const;

/** HvCallInstallIntercept (hv_input_install_intercept). */
export const InstallInterceptIn = { partitionId: 0, accessType: 8, interceptType: 12, parameter: 16, SIZE: 24 } as const;
export const InterceptType = {
  X64_IO_PORT: 0x0,
  X64_MSR: 0x1,
  X64_MSR_INDEX: 0xc,
} as const;
export const InterceptAccess = { READ: 1, WRITE: 2, EXECUTE: 4, MASK: 7 } as const;

/** HvCallDispatchVp (hv_input_dispatch_vp / hv_output_dispatch_vp). time_slice is in 100 ns units. */
export const DispatchVpIn = { partitionId: 0, vpIndex: 8, flags: 12, timeSlice: 16, specCtrl: 24, SIZE: 32 } as const;
export const DispatchVpOut = { state: 0, event: 4, SIZE: 8 } as const;
export const DispatchVpFlags = { CLEAR_INTERCEPT_SUSPEND: 0x1 } as const;
export const DispatchState = { INVALID: 0, BLOCKED: 1, READY: 2 } as const;
export const DispatchEvent = { INVALID: 0, SUSPEND: 1, INTERCEPT: 2 } as const;

/**
 * HvCallFlushGuestPhysicalAddressList: {u64 address_space, u64 flags} then a rep list of HV_GPA_PAGE_RANGE
 * (bits 0..10 additional pages, bit 11 large page, bits 12..63 base page). Hypatia's address space is the
 * target partition id; the flush also drops decoded code for the pages (the root wrote them).
 */
export const FlushGpaListIn = { addressSpace: 0, flags: 8, SIZE: 16, REP_SIZE: 8 } as const;

/** Hypatia extension HvCallHypatiaSetCpuidLeaves: {u64 partition id} then 32-byte leaves. */
export const SetCpuidIn = { partitionId: 0, SIZE: 8, REP_SIZE: 32 } as const;
export const CpuidLeafLayout = { leaf: 0, subleaf: 4, flags: 8, eax: 12, ebx: 16, ecx: 20, edx: 24 } as const;
/** The leaf's result depends on ECX (subleaf); otherwise it applies to every subleaf. */
export const CPUID_LEAF_SUBLEAF_SPECIFIC = 1;

/**
 * HvCallAssertVirtualInterrupt (hv_input_assert_virtual_interrupt): partition, hv_interrupt_control (u32
 * interrupt type, then bit 0 level-triggered and bit 1 logical destination mode), destination (APIC ID or
 * logical destination), vector, target VTL, reserved.
 */
export const AssertInterruptIn = {
  partitionId: 0, interruptType: 8, controlFlags: 12, destination: 16, vector: 24, targetVtl: 28, reserved: 29, SIZE: 32,
} as const;
export const InterruptControlFlags = { LEVEL_TRIGGERED: 1, LOGICAL_DEST: 2, MASK: 3 } as const;
/** HV_X64_INTERRUPT_TYPE_* (the APIC delivery-mode numbers). */
export const HvInterruptType = {
  FIXED: 0, LOWEST_PRIORITY: 1, SMI: 2, REMOTE_READ: 3, NMI: 4, INIT: 5, SIPI: 6, EXTINT: 7, LOCAL_INT0: 8, LOCAL_INT1: 9,
} as const;

/** Partition property codes (hv_partition_property_code). */
export const PartitionProperty = {
  PRIVILEGE_FLAGS: 0x00010000,
  PROCESSOR_CLOCK_FREQUENCY: 0x00060009,
} as const;
