/**
 * `pyStr` / `pyRepr`: Python's `str(x)` and `repr(x)` of JSON-like values (spec formats.md §0,
 * "pyrepr"). The ToolLLaMA system prompt embeds `str(functions)`, converted answers embed
 * `str(message)`, and the StableToolBench cache is keyed by `str(arguments)`.
 *
 * Printability follows Python's `str.isprintable`; the Unicode tables come from this Node's ICU,
 * which can be newer than the Python that wrote a file (only characters assigned in between differ).
 */
import { PyFloat, formatPyNumber, orderedKeys } from './py-value.js';

/** Python `str(value)`: a string is returned unchanged, anything else as its repr. */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

/** Python `repr(value)` for None, bools, ints, floats, strings, lists and dicts. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'string') return reprString(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint' || value instanceof PyFloat) {
    return formatPyNumber(value, 'repr');
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const items = orderedKeys(record)
      .filter((key) => record[key] !== undefined)
      .map((key) => `${reprString(key)}: ${pyRepr(record[key])}`);
    return `{${items.join(', ')}}`;
  }
  throw new TypeError(`pyRepr: cannot represent a ${typeof value}`);
}

// Python's non-printable set: categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs other than ' '.
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const NEEDS_WORK = /[\\'\u0000-\u001f\u007f-\uffff]/;

/** Python `repr(str)`: single quotes unless the text has `'` and no `"`. */
export function reprString(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  if (!NEEDS_WORK.test(text)) return `${quote}${text}${quote}`;
  let out = quote;
  for (const character of text) {
    const code = character.codePointAt(0) as number;
    if (character === quote || character === '\\') out += `\\${character}`;
    else if (character === '\n') out += '\\n';
    else if (character === '\r') out += '\\r';
    else if (character === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f || !NOT_PRINTABLE.test(character)) out += character;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + quote;
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}
