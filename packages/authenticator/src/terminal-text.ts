/**
 * Characters that would let text from a server or a QR code take over a terminal: C0 controls (newline, carriage
 * return, ESC…), DEL, C1 controls (U+009B is a one-character CSI), the line and paragraph separators, and the
 * bidirectional embeddings, overrides and isolates that reorder what is read (U+202A–U+202E, U+2066–U+2069).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Whether `text` holds a character that printable() would escape (a name with one is refused where it is read). */
export function hasUnsafeCharacters(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text);
}
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text made safe for one line of the terminal: each unsafe character is shown as an escape (\n, \x1b, \u202e), so
 * an app cannot fake a line of a prompt, recolor it or move the cursor, and one entry stays on one line.
 */
export function printable(text: string): string {
  return text.replace(UNSAFE, (character) => {
    const code = character.charCodeAt(0);
    return NAMED[character] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
}
