// Why a kernel cannot be booted. Every refusal of the direct-boot firmware (bad image, a kernel or initrd that
// does not fit, a command line too long) is a BootError with a one-line message the CLI prints as it is.

export class BootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootError';
  }
}

export const hex = (n: number): string => '0x' + n.toString(16);
