// COM1 on a stream pair: guest output to a writable stream (batched, flushed when the worker yields) and
// keystrokes from a readable stream into the UART's receive FIFO. A TTY is put in raw mode so every key
// reaches the guest; a pipe or file is read as it is (its end only ends the input: the VM runs on, as with
// `hypatia run ... < /dev/null`). Ctrl-A x quits (QEMU's escape), Ctrl-A Ctrl-A sends a literal Ctrl-A.

export interface ConsoleInput {
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  removeListener(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface ConsoleOutput {
  write(chunk: Uint8Array): unknown;
}

const CTRL_A = 0x01;
/** Queued input bytes at which reading stops (a large file on stdin is not read into memory at once)... */
const PAUSE_AT = 64 * 1024;
/** ...and the level at which it starts again. */
const RESUME_AT = 4 * 1024;

export class SerialConsole {
  private readonly out = new Uint8Array(8192);
  private outLen = 0;
  /** Keystrokes not yet in the UART: bytes [inHead, inTail) of inBuf. */
  private inBuf = new Uint8Array(256);
  private inHead = 0;
  private inTail = 0;
  private escape = false;
  private rawSet = false;
  private attached = false;
  private paused = false;
  private readonly onData = (chunk: Buffer | string): void => this.take(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);

  constructor(
    private readonly input: ConsoleInput | null,
    private readonly output: ConsoleOutput,
    private readonly onQuit: () => void,
  ) {}

  attach(): void {
    if (this.input === null) return;
    if (this.input.isTTY === true && this.input.setRawMode !== undefined) {
      this.input.setRawMode(true);
      this.rawSet = true;
    }
    this.input.on('data', this.onData);
    this.input.resume();
    this.attached = true;
  }

  /** Restore the terminal. Safe to call more than once. */
  detach(): void {
    this.flush();
    if (this.input === null) return;
    this.attached = false;
    this.input.removeListener('data', this.onData);
    this.input.pause();
    if (this.rawSet && this.input.setRawMode !== undefined) this.input.setRawMode(false);
    this.rawSet = false;
  }

  /** A byte the guest transmitted. */
  put(byte: number): void {
    this.out[this.outLen++] = byte;
    if (this.outLen === this.out.length) this.flush();
  }

  flush(): void {
    if (this.outLen === 0) return;
    this.output.write(this.out.slice(0, this.outLen));
    this.outLen = 0;
  }

  private take(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (this.escape) {
        this.escape = false;
        if (b === 0x78 || b === 0x58) { this.onQuit(); return; } // 'x'
        if (b === CTRL_A) this.queue(CTRL_A);
        continue;
      }
      if (b === CTRL_A) { this.escape = true; continue; }
      this.queue(b);
    }
    if (!this.paused && this.inTail - this.inHead >= PAUSE_AT && this.input !== null) {
      this.paused = true;
      this.input.pause();
    }
  }

  private queue(b: number): void {
    if (this.inTail === this.inBuf.length) {
      const live = this.inTail - this.inHead;
      // Compact, and grow when more than half is live (amortized O(1) per byte).
      const next = live * 2 > this.inBuf.length ? new Uint8Array(this.inBuf.length * 2) : this.inBuf;
      next.set(this.inBuf.subarray(this.inHead, this.inTail), 0);
      this.inBuf = next;
      this.inHead = 0;
      this.inTail = live;
    }
    this.inBuf[this.inTail++] = b;
  }

  /** Keystrokes waiting for room in the UART. */
  get pending(): number {
    return this.inTail - this.inHead;
  }

  /** Move queued keystrokes into the UART as far as its FIFO allows. */
  feed(receive: (bytes: ArrayLike<number>) => number, space: number): void {
    if (this.inTail === this.inHead || space <= 0) return;
    const n = receive(this.inBuf.subarray(this.inHead, Math.min(this.inTail, this.inHead + space)));
    this.inHead += n;
    if (this.inHead === this.inTail) this.inHead = this.inTail = 0;
    if (this.paused && this.inTail - this.inHead <= RESUME_AT && this.input !== null) {
      this.paused = false;
      if (this.attached) this.input.resume();
    }
  }
}
