/**
 * `pyJsonDumps`: the exact text of Python's `json.dumps` (spec formats.md §0, "pyjson").
 *
 * Defaults match Python's: `", "` and `": "` separators, `ensure_ascii=True` (every code unit
 * outside ' '..'~' as a lower-case `\uXXXX`, U+007F included, despite what spec formats.md §0
 * says; astral characters become surrogate pairs), floats
 * as Python's repr. With `indent`, items end lines with `,` and empty containers stay `[]`/`{}`.
 * Answer files, prompts and cache keys depend on these bytes.
 */
import { PyFloat, formatPyNumber, orderedKeys } from './py-value.js';

export interface PyJsonOptions {
  /** Python's `indent`: undefined for one line. */
  readonly indent?: number;
  /** Python's `ensure_ascii` (default true). */
  readonly ensureAscii?: boolean;
}

export function pyJsonDumps(value: unknown, options: PyJsonOptions = {}): string {
  const ensureAscii = options.ensureAscii ?? true;
  const indent = options.indent;
  const parts: string[] = [];
  const write = (item: unknown, level: number): void => {
    if (item === null || item === undefined) {
      parts.push('null');
    } else if (typeof item === 'string') {
      parts.push(quoteJsonString(item, ensureAscii));
    } else if (typeof item === 'boolean') {
      parts.push(item ? 'true' : 'false');
    } else if (typeof item === 'number' || typeof item === 'bigint' || item instanceof PyFloat) {
      parts.push(formatPyNumber(item, 'json'));
    } else if (Array.isArray(item)) {
      writeContainer('[', ']', item.length, level, (index, inner) => write(item[index], inner));
    } else if (typeof item === 'object') {
      const record = item as Record<string, unknown>;
      const keys = orderedKeys(record).filter((key) => record[key] !== undefined);
      writeContainer('{', '}', keys.length, level, (index, inner) => {
        const key = keys[index] as string;
        parts.push(quoteJsonString(key, ensureAscii), ': ');
        write(record[key], inner);
      });
    } else {
      throw new TypeError(`pyJsonDumps: cannot serialise a ${typeof item}`);
    }
  };
  const writeContainer = (
    open: string,
    close: string,
    count: number,
    level: number,
    writeItem: (index: number, innerLevel: number) => void,
  ): void => {
    if (count === 0) {
      parts.push(open, close);
      return;
    }
    parts.push(open);
    const inner = level + 1;
    const itemPrefix = indent === undefined ? '' : `\n${' '.repeat(indent * inner)}`;
    const separator = indent === undefined ? ', ' : ',';
    for (let index = 0; index < count; index++) {
      if (index > 0) parts.push(separator);
      parts.push(itemPrefix);
      writeItem(index, inner);
    }
    if (indent !== undefined) parts.push(`\n${' '.repeat(indent * level)}`);
    parts.push(close);
  };
  write(value, 0);
  return parts.join('');
}

const NEEDS_ESCAPE_ASCII = /["\\\u0000-\u001f\u007f-\uffff]/;
const NEEDS_ESCAPE_RAW = /["\\\u0000-\u001f]/;
const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x22: '\\"',
  0x5c: '\\\\',
  0x0a: '\\n',
  0x0d: '\\r',
  0x09: '\\t',
  0x08: '\\b',
  0x0c: '\\f',
};

const ESCAPE_ASCII = /["\\\u0000-\u001f\u007f-\uffff]/g;
const ESCAPE_RAW = /["\\\u0000-\u001f]/g;

function escapeUnit(character: string): string {
  const unit = character.charCodeAt(0);
  return SHORT_ESCAPES[unit] ?? `\\u${unit.toString(16).padStart(4, '0')}`;
}

/** A JSON string literal exactly as Python writes it. */
export function quoteJsonString(text: string, ensureAscii = true): string {
  if (!(ensureAscii ? NEEDS_ESCAPE_ASCII : NEEDS_ESCAPE_RAW).test(text)) return `"${text}"`;
  // the regular expression engine finds the characters to escape much faster than a loop
  return `"${text.replace(ensureAscii ? ESCAPE_ASCII : ESCAPE_RAW, escapeUnit)}"`;
}
