// How the VMBus server reaches one child partition's SynIC: the root's side of HvPostMessage/HvSignalEvent
// (serve a connection id) and of message/event delivery (post into a VP's SINT slot, set a SIEF flag). The
// worker builds one from VID; tests build one over a hypervisor or a loopback.

export interface SynicPort {
  /** Post a message into VP `vpIndex`'s SINT `sint` (queued while the slot is busy). Returns an HvStatus (0 = SUCCESS). */
  postMessage(vpIndex: number, sint: number, type: number, payload: Uint8Array): number;
  /** Set event flag `flag` of SINT `sint` on VP `vpIndex` and raise the SINT. Returns an HvStatus. */
  signalEvent(vpIndex: number, sint: number, flag: number): number;
  /**
   * Serve the guest's HvPostMessage on `connectionId` (null stops). The handler gets the message type and a
   * payload view valid only during the call, and returns the HvStatus the guest sees.
   */
  setMessageHandler(connectionId: number, handler: ((type: number, payload: Uint8Array) => number) | null): boolean;
  /** Serve the guest's HvSignalEvent on `connectionId`, flags 0..flagCount-1 (null stops). */
  setEventHandler(connectionId: number, flagCount: number, handler: ((flag: number) => void) | null): boolean;
}
