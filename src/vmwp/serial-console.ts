// COM1 on a stream pair: guest output to a writable stream (batched, flushed when the worker yields) and
// keystrokes from a readable stream into the UART's receive FIFO. A TTY is put in raw mode so every key
// reaches the guest; Ctrl-A x quits (QEMU's escape), Ctrl-A Ctrl-A sends a literal Ctrl-A.

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

export class SerialConsole {
  private readonly out = new Uint8Array(8192);
  private outLen = 0;
  private readonly pendingIn: number[] = [];
  private escape = false;
  private rawSet = false;
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
  }

  /** Restore the terminal. Safe to call more than once. */
  detach(): void {
    this.flush();
    if (this.input === null) return;
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
        if (b === CTRL_A) this.pendingIn.push(CTRL_A);
        continue;
      }
      if (b === CTRL_A) { this.escape = true; continue; }
      this.pendingIn.push(b);
    }
  }

  /** Move queued keystrokes into the UART as far as its FIFO allows. */
  feed(receive: (bytes: number[]) => number, space: number): void {
    if (this.pendingIn.length === 0 || space <= 0) return;
    const n = receive(this.pendingIn.slice(0, space));
    this.pendingIn.splice(0, n);
  }
}
