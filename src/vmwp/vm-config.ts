// What a worker needs to build a VM.

export interface VmConfig {
  /** Guest RAM in bytes. */
  memoryBytes: number;
  /** The kernel image (a freestanding x86-64 ELF). */
  kernel: Uint8Array;
  /** Write every intercept to the trace stream (debugging aid). */
  traceExits?: boolean;
}

export class VmConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmConfigError';
  }
}
