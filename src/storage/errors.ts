// Typed errors of the disk-format library. Every problem with an image (damaged, hostile, unsupported) or with a
// request (bad offset, bad size, read-only) is reported as a StorageError, so callers can tell "this image or this
// request is bad" apart from programming errors and show the message as it is.

/** Base class: a one-line, human-readable message such as "vhdx: BAT entry 17 points past end of file". */
export class StorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The image file is damaged or hostile: bad signature, checksum, out-of-range pointer, loop, absurd size. */
export class CorruptImageError extends StorageError {}

/** The image is valid but uses a feature this library does not implement. */
export class UnsupportedImageError extends StorageError {}

/** The caller asked for something impossible: unaligned I/O, writing a read-only disk, a bad size. */
export class DiskRequestError extends StorageError {}

/** A VHDX image was not closed cleanly and must be opened read-write once so its log is replayed. */
export class LogReplayRequiredError extends StorageError {}
