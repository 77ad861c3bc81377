// `hypatia run` as a child process whose COM1 is driven through pipes: commands are written to its stdin, the
// console is read from its stdout. Busybox's shell echoes what it is sent and follows every prompt with a
// cursor-position query (ESC [6n, unanswered), so each command ends with an echo of a shell-computed marker
// ("@@$((n+1))-$?" is echoed as typed, and prints as "@@<n+1>-<status>"), and its output is what lies between
// the echoed command line and that marker. Every wait has a deadline and fails with the console's tail.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

const TAIL_CHARS = 4000;
/** The prompt ("hypatia-guest:/# ") at the end of the output, with busybox's cursor-position query after it. */
const ESC = String.fromCharCode(0x1b);
const PROMPT = new RegExp(`# (?:${ESC}\\[6n)?$`);

export interface CommandResult {
  /** What the command printed, without the shell's echo of the line, \r\n made \n. */
  output: string;
  status: number;
  ms: number;
  /** Bytes written for it (the line, the marker, the newline). */
  sent: number;
}

export class GuestConsole {
  private out = '';
  private err = '';
  private readonly proc: ChildProcessWithoutNullStreams;
  private seq = 0;
  /** Set when a wait timed out: the console is out of step, so later waits fail at once rather than time out too. */
  private stuck: string | null = null;
  readonly started = Date.now();
  /** Resolves when the process has exited and its streams are closed. */
  readonly closed: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;

  constructor(cli: string, args: string[]) {
    this.proc = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (b: Buffer) => { this.out += b.toString('latin1'); });
    this.proc.stderr.on('data', (b: Buffer) => { this.err += b.toString('latin1'); });
    this.proc.stdin.on('error', () => undefined); // a write after the VM ended: the wait that follows reports it
    this.closed = new Promise((resolve) => this.proc.on('close', (status, signal) => resolve({ status, signal })));
  }

  get output(): string { return this.out; }
  get stderr(): string { return this.err; }
  get exitCode(): number | null { return this.proc.exitCode; }

  /** The end of the console and of stderr, for failure messages. */
  tail(): string {
    return `--- console (last ${TAIL_CHARS} chars) ---\n${this.out.slice(-TAIL_CHARS)}\n--- stderr ---\n${this.err.slice(-TAIL_CHARS)}`;
  }

  /** Resolves with the match once `re` matches the console output from offset `from` on. */
  async waitFor(re: RegExp, what: string, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    if (this.stuck !== null) throw new Error(`not waiting for ${what}: an earlier wait failed (${this.stuck})`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m !== null) return m;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`hypatia run exited (status ${this.proc.exitCode}, signal ${this.proc.signalCode}) before ${what}\n${this.tail()}`);
      }
      if (Date.now() > deadline) {
        this.stuck = `timed out waiting for ${what}`;
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the shell prompt at the very end of the output (from `from` on). */
  async waitPrompt(timeoutMs: number, from = 0): Promise<void> {
    await this.waitFor(PROMPT, 'the shell prompt', timeoutMs, from);
  }

  write(text: string): void {
    this.proc.stdin.write(text);
  }

  /** No more input: the guest must run on. */
  endInput(): void {
    this.proc.stdin.end();
  }

  /** Types `line` at the prompt and waits for its marker; the line must be short (with the prompt, within 80 columns: no wrapping). */
  async run(line: string, timeoutMs: number): Promise<CommandResult> {
    const n = ++this.seq;
    const typed = `${line}; echo @@$((${n}+1))-$?`;
    if (typed.length > 60) throw new Error(`command too long for one console line: ${typed}`);
    const mark = this.out.length;
    const t0 = Date.now();
    this.write(`${typed}\n`);
    const done = await this.waitFor(new RegExp(`^@@${n + 1}-(\\d+)\\r?$`, 'm'), `the end of "${line}"`, timeoutMs, mark);
    const ms = Date.now() - t0;
    const text = this.out.slice(mark, mark + done.index);
    const echoEnd = text.indexOf('\n');
    if (echoEnd < 0) throw new Error(`no echo of "${line}" before its output\n${this.tail()}`);
    await this.waitPrompt(timeoutMs, mark + done.index);
    return { output: text.slice(echoEnd + 1).replace(/\r\n/g, '\n'), status: Number(done[1]), ms, sent: typed.length + 1 };
  }

  /** Sends `signal` to the hypatia process (e.g. SIGTERM: a clean shutdown request). */
  signal(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}
