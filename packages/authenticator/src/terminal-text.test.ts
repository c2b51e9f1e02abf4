import { describe, expect, it } from 'vitest';
import { printable } from './terminal-text.ts';

describe('printable (server text shown at a terminal)', () => {
  it('leaves ordinary text alone, accents and emoji included', () => {
    expect(printable('Example Bank — Zürich, 北京 🙂 "quoted" back\\slash')).toBe('Example Bank — Zürich, 北京 🙂 "quoted" back\\slash');
  });

  it.each([
    ['a newline, which would start a fake line', 'a\nb', 'a\\nb'],
    ['a carriage return, which would overwrite the line', 'a\rb', 'a\\rb'],
    ['a tab', 'a\tb', 'a\\tb'],
    ['an ANSI escape sequence', '\u001b[31mred', '\\x1b[31mred'],
    ['NUL and DEL', '\u0000\u007f', '\\x00\\x7f'],
    ['a C1 control sequence introducer', '\u009b2J', '\\x9b2J'],
    ['a right-to-left override', 'invoice\u202efdp.exe', 'invoice\\u202efdp.exe'],
    ['a bidi isolate', '\u2066a\u2069', '\\u2066a\\u2069'],
    ['a line separator', 'a\u2028b', 'a\\u2028b'],
  ])('escapes %s', (_what, text, shown) => {
    expect(printable(text)).toBe(shown);
  });
});
