// A VSP for tests: a device of a class no Linux driver claims (the guest lists it and binds nothing), which
// echoes every packet it gets back as a completion with the same transaction id.
import { PACKET_TYPE_COMP, type Vsp } from '../../src/vmbus/index.js';

export const LOOPBACK_CLASS = '8a7ef3c4-1d2b-4e5f-9a6b-7c8d9e0f1a2b';
export const LOOPBACK_INSTANCE = '3f1e5d7c-9b2a-4c6e-8d0f-1a3b5c7e9f20';

export function loopbackVsp(): Vsp {
  return {
    offer: { classId: LOOPBACK_CLASS, instanceId: LOOPBACK_INSTANCE, name: 'test-loopback' },
    open: () => true,
    packet: (ch, p) => { ch.send(PACKET_TYPE_COMP, 0, p.transIdLo, p.transIdHi, p.payload); },
    close: () => {},
  };
}
