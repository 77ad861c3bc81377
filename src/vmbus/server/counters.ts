// What the server counts, for inspect() and for tests that prove a hostile input was refused (not ignored).
export interface ServerCounters {
  /** Channel messages the guest posted. */
  messages: number;
  /** Guest messages refused (malformed, wrong state, unknown channel ...). */
  refused: number;
  /** Guest -> host packets handed to VSPs. */
  packets: number;
  /** Guest -> host packets dropped (bad descriptor, unknown type, ranges outside RAM). */
  refusedPackets: number;
  /** Host -> guest packets written. */
  packetsSent: number;
  /** Sends that found the host -> guest ring full. */
  sendsFull: number;
  /** HvSignalEvent calls on channel connection ids. */
  signalsIn: number;
  /** Guest signals for channels that are not open (ignored). */
  signalsIgnored: number;
  /** SynIC events set for the guest. */
  signalsOut: number;
  /** Channels closed because the VSP threw or the guest broke the ring. */
  channelsFailed: number;
}

export function newCounters(): ServerCounters {
  return {
    messages: 0, refused: 0, packets: 0, refusedPackets: 0, packetsSent: 0, sendsFull: 0, signalsIn: 0,
    signalsIgnored: 0, signalsOut: 0, channelsFailed: 0,
  };
}
