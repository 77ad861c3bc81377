// Errors in the root's use of VID (bad sizes, GPAs outside a child's RAM): a clear message for the caller.
export class VidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VidError';
  }
}
