// Hypercall call codes and status codes (TLFS "Hypercall Interface"; numbers checked against Linux
// include/hyperv/hvgdk_mini.h (HVCALL_*) and OpenVMM vm/hv1/hvdef/src/lib.rs (HypercallCode, HvError)).

export const HvCall = {
  NotifyLongSpinWait: 0x0008,
  CreatePartition: 0x0040,
  InitializePartition: 0x0041,
  FinalizePartition: 0x0042,
  DeletePartition: 0x0043,
  GetPartitionProperty: 0x0044,
  SetPartitionProperty: 0x0045,
  GetPartitionId: 0x0046,
  MapGpaPages: 0x004b,
  UnmapGpaPages: 0x004c,
  InstallIntercept: 0x004d,
  CreateVp: 0x004e,
  DeleteVp: 0x004f,
  GetVpRegisters: 0x0050,
  SetVpRegisters: 0x0051,
  /** A guest posts a message to a connection / signals an event flag of one (SynIC, src/hv/synic). */
  PostMessage: 0x005c,
  SignalEvent: 0x005d,
  /** The root raises an interrupt in a child's local APIC(s) (hv_input_assert_virtual_interrupt). */
  AssertVirtualInterrupt: 0x0094,
  FlushGuestPhysicalAddressList: 0x00b0,
  /** The root scheduler's "run this VP for a time slice" (Linux mshv_root uses it with the root scheduler). */
  DispatchVp: 0x00c2,
  /**
   * Hypatia extension (no public TLFS equivalent): set a partition's CPUID results, a rep list of leaves.
   * Chosen far from every public call code; root only.
   */
  HypatiaSetCpuidLeaves: 0x7f01,
} as const;

export const HvStatus = {
  SUCCESS: 0x0000,
  INVALID_HYPERCALL_CODE: 0x0002,
  INVALID_HYPERCALL_INPUT: 0x0003,
  INVALID_ALIGNMENT: 0x0004,
  INVALID_PARAMETER: 0x0005,
  ACCESS_DENIED: 0x0006,
  INVALID_PARTITION_STATE: 0x0007,
  OPERATION_DENIED: 0x0008,
  UNKNOWN_PROPERTY: 0x0009,
  PROPERTY_VALUE_OUT_OF_RANGE: 0x000a,
  INSUFFICIENT_MEMORY: 0x000b,
  INVALID_PARTITION_ID: 0x000d,
  INVALID_VP_INDEX: 0x000e,
  NOT_FOUND: 0x0010,
  INVALID_PORT_ID: 0x0011,
  INVALID_CONNECTION_ID: 0x0012,
  INSUFFICIENT_BUFFERS: 0x0013,
  INVALID_VP_STATE: 0x0015,
  OBJECT_IN_USE: 0x0019,
  INVALID_REGISTER_VALUE: 0x0050,
} as const;

const STATUS_NAMES = new Map<number, string>(Object.entries(HvStatus).map(([k, v]) => [v, `HV_STATUS_${k}`]));

/** "HV_STATUS_ACCESS_DENIED" for 6, or a hex fallback for codes this hypervisor never returns. */
export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `HV_STATUS_0x${status.toString(16).padStart(4, '0')}`;
}

const CALL_NAMES = new Map<number, string>(Object.entries(HvCall).map(([k, v]) => [v, `HvCall${k}`]));

export function callName(code: number): string {
  return CALL_NAMES.get(code) ?? `HvCall0x${code.toString(16).padStart(4, '0')}`;
}
