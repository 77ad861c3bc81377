// Every failure of the guest-image tooling is a GuestImageError whose message is one line a user can act on
// ("apt-get not found: ...", "no space left on device in ..."); the CLI prints it as is.

export type GuestImageErrorCode =
  | 'no-apt' // apt-get/apt-cache/dpkg-deb missing: not a Debian-like host
  | 'no-package' // apt knows no such package or version
  | 'download' // apt-get download failed
  | 'no-space' // ENOSPC while downloading, extracting or writing
  | 'tool' // another required host tool (xz, zstd) missing or failing
  | 'bad-kernel' // the kernel package lacks what we need (bzImage signature, a module)
  | 'bad-archive' // a cpio/initramfs that does not parse
  | 'lock' // another fetch holds the cache
  | 'offline' // offline mode with an incomplete cache
  | 'exists' // an output file that is there already (no --force)
  | 'bad-size'; // a disk size that is malformed or too small for what goes on it

export class GuestImageError extends Error {
  constructor(readonly code: GuestImageErrorCode, message: string) {
    super(message);
    this.name = 'GuestImageError';
  }
}

/** Whether an error (a Node system error or a tool's stderr) means the disk is full. */
export function isNoSpace(e: unknown, stderr = ''): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || /No space left on device/i.test(stderr) || /No space left on device/i.test(String((e as Error)?.message ?? ''));
}
