/**
 * Python string operations whose results differ from JavaScript's: slices count
 * code points, not UTF-16 units (spec formats.md §0), `strip()` uses Python's whitespace set,
 * and `replace('', x)` inserts `x` between every character.
 */

// Python str.isspace(): JavaScript's trim() adds U+FEFF and lacks U+001C–U+001F and U+0085.
const PY_WHITESPACE = '\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

/** Python `s.strip()`. */
export function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && PY_WHITESPACE.includes(text[start] as string)) start++;
  while (end > start && PY_WHITESPACE.includes(text[end - 1] as string)) end--;
  return text.slice(start, end);
}

const ASTRAL = /[\ud800-\udbff][\udc00-\udfff]/;

/** Python `s[:count]` (code points). */
export function pyHead(text: string, count: number): string {
  if (text.length <= count) return text;
  if (!ASTRAL.test(text)) return text.slice(0, count);
  return Array.from(text).slice(0, count).join('');
}

/** Python `s[-count:]` (code points). */
export function pyTail(text: string, count: number): string {
  if (text.length <= count) return text;
  if (!ASTRAL.test(text)) return text.slice(text.length - count);
  const points = Array.from(text);
  return points.slice(Math.max(0, points.length - count)).join('');
}

/** Python `s.replace(old, new)`, including the empty-`old` case. */
export function pyReplace(text: string, old: string, replacement: string): string {
  if (old !== '') return text.split(old).join(replacement);
  return replacement + Array.from(text).map((character) => character + replacement).join('');
}

/** Python `len(s)` (code points). */
export function pyLength(text: string): number {
  if (!ASTRAL.test(text)) return text.length;
  return Array.from(text).length;
}
