// A failed hypercall as the root sees it: the call and the TLFS status, by name.
import { callName, statusName } from '../hv/index.js';

export class HvError extends Error {
  readonly statusName: string;

  constructor(readonly call: number, readonly status: number, readonly repsCompleted = 0) {
    super(`${callName(call)} failed: ${statusName(status)}`);
    this.name = 'HvError';
    this.statusName = statusName(status);
  }
}
