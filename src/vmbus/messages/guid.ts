// GUIDs as VMBus carries them (Linux guid_t, printed with %pUl): the first three groups little-endian, the last
// eight bytes in order — '57164f39-9115-4e78-ab55-382f3bd5422d' starts with bytes 39 4f 16 57.

const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuidText(text: string): boolean { return GUID_TEXT.test(text); }

/** Writes the GUID `text` into m[at..at+16). Throws on malformed text (host configuration, not guest input). */
export function writeGuid(m: Uint8Array, at: number, text: string): void {
  if (!GUID_TEXT.test(text)) throw new Error(`not a GUID: ${text}`);
  const hex = text.replace(/-/g, '');
  const b = (i: number): number => parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  for (let i = 0; i < 16; i++) m[at + i] = b(order[i]);
}

export function readGuid(m: Uint8Array, at: number): string {
  const h = (i: number): string => m[at + i].toString(16).padStart(2, '0');
  return `${h(3)}${h(2)}${h(1)}${h(0)}-${h(5)}${h(4)}-${h(7)}${h(6)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
