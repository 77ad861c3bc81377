// Watches what the guest writes to its console for Linux's panic line, "Kernel panic - not syncing: <why>"
// (kernel/panic.c prints it first thing in panic()). It is the fallback for a guest that panics without telling
// the hypervisor through the crash MSRs: with the default panic=-1 such a kernel resets at once, and a reset that
// follows this line is a panic, not a reboot. It is a heuristic and says so: the line could come from anything
// the guest prints (a program echoing it, a log being shown), which is why only a reset right after it — in the
// same boot — counts. Matching is a byte-at-a-time automaton (KMP) over the console stream: no allocation per byte.

const PANIC_TEXT = 'Kernel panic - not syncing';
/** The longest panic line kept (the kernel's own message is at most 1 KiB; the first part says enough). */
const MAX_LINE = 240;

const PATTERN = Uint8Array.from(PANIC_TEXT, (c) => c.charCodeAt(0));
/** KMP failure function: FAIL[i] = length of the longest proper border of PATTERN[0..i]. */
const FAIL = new Int32Array(PATTERN.length);
for (let i = 1, k = 0; i < PATTERN.length; i++) {
  while (k > 0 && PATTERN[i] !== PATTERN[k]) k = FAIL[k - 1];
  if (PATTERN[i] === PATTERN[k]) k++;
  FAIL[i] = k;
}

export class PanicWatch {
  private matched = 0;
  /** 0: looking; 1: capturing the rest of the line; 2: done (the first panic line of a boot is the one). */
  private state = 0;
  private readonly line = new Uint8Array(MAX_LINE);
  private lineLen = 0;

  /** One byte the guest transmitted. */
  feed(b: number): void {
    if (this.state === 2) return;
    if (this.state === 1) {
      if (b === 0x0a || b === 0x0d || this.lineLen === MAX_LINE) { this.state = 2; return; }
      this.line[this.lineLen++] = b;
      return;
    }
    let k = this.matched;
    while (k > 0 && b !== PATTERN[k]) k = FAIL[k - 1];
    if (b === PATTERN[k]) k++;
    if (k === PATTERN.length) {
      this.line.set(PATTERN, 0);
      this.lineLen = PATTERN.length;
      this.state = 1;
      k = 0;
    }
    this.matched = k;
  }

  /** The panic line seen in this boot (without the kernel's timestamp), or null. */
  get panicLine(): string | null {
    return this.state === 0 ? null : printable(this.line.subarray(0, this.lineLen));
  }

  /** A new boot: forget what the last one printed. */
  reset(): void {
    this.matched = 0;
    this.state = 0;
    this.lineLen = 0;
  }
}

/** Guest bytes as one line of text a terminal can show safely (control characters become '?'). */
export function printable(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?';
  return s;
}
