// Sizes on the command line: a byte count or a number with a K, M or G suffix (binary multiples).

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };

export function parseMemorySize(option: string, text: string): number {
  const m = /^(\d+)([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`${option}: bad size "${text}" (expected e.g. 64M, 1G, 65536K)`);
  const v = Number(m[1]) * UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(v) || v <= 0) throw new UsageError(`${option}: size "${text}" is out of range`);
  if (v % 4096 !== 0) throw new UsageError(`${option}: size "${text}" is not a multiple of 4K`);
  return v;
}
