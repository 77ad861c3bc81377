// The option walk the `run` and `vm` commands share: `--name value`, `--name=value`, bare flags and positional
// words, with one error wording for a missing value, a bad choice and a bad number of seconds.
import { UsageError } from './size-option.js';

export class ArgReader {
  private i = 0;
  /** The current argument as given. */
  arg = '';
  /** Its option name (`--name` of `--name=value`), or the argument itself. */
  name = '';
  private inline: string | undefined;

  constructor(private readonly argv: readonly string[]) {}

  /** Moves to the next argument and returns its name, or null at the end. */
  next(): string | null {
    if (this.i >= this.argv.length) return null;
    const a = this.argv[this.i++];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    this.arg = a;
    this.name = eq > 0 ? a.slice(0, eq) : a;
    this.inline = eq > 0 ? a.slice(eq + 1) : undefined;
    return this.name;
  }

  /** The current option's value: after its `=`, or the next argument. */
  value(): string {
    if (this.inline !== undefined) return this.inline;
    const v = this.argv[this.i++];
    if (v === undefined) throw new UsageError(`${this.name} needs a value`);
    return v;
  }

  /** Everything after the current argument (after `--`), consumed. */
  rest(): string[] {
    const r = this.argv.slice(this.i);
    this.i = this.argv.length;
    return r;
  }

  /** The current option's value, which must be one of `choices`. */
  choice<T extends string>(choices: readonly T[]): T {
    const v = this.value();
    if (!(choices as readonly string[]).includes(v)) throw new UsageError(`${this.name} takes ${choices.join(' or ')} (got "${v}")`);
    return v as T;
  }

  /** The current option's value as seconds (more than 0, at most `max`), returned in milliseconds. */
  secondsMs(max: number): number {
    const v = this.value();
    const s = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || !(s > 0) || s > max) throw new UsageError(`${this.name} takes seconds, more than 0 and at most ${max} (got "${v}")`);
    return Math.round(s * 1000);
  }
}
