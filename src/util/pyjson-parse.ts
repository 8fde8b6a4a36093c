/**
 * `pyJsonParse`: reads JSON the way Python's `json.loads` does, keeping what Python would print
 * back (see py-value.ts): integral floats as PyFloat, big integers as bigint, the insertion
 * order of index-like keys, and the literals `NaN`, `Infinity`, `-Infinity`.
 *
 * Most files have none of these, so a quick scan decides: if no token needs care, the native
 * `JSON.parse` does the work. Otherwise (or when the native parser rejects the text) a faithful
 * parser runs, which also reports where a syntax error is: line, column and JSON path.
 */
import { childPath } from './json-path.js';
import { PyFloat, attachKeyOrder, defineKey, isIndexLikeKey, type PyValue } from './py-value.js';

export interface PyJsonParseOptions {
  /** Python's `strict`: when false, raw control characters are allowed inside strings. */
  readonly strict?: boolean;
}

/** Where and why a text is not JSON. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly expected: string,
    readonly position: number,
    readonly line: number,
    readonly column: number,
    readonly jsonPath: string,
  ) {
    super(`${jsonPath} (line ${line}, column ${column}): expected ${expected}`);
    this.name = 'JsonSyntaxError';
  }
}

export function pyJsonParse(text: string, options: PyJsonParseOptions = {}): PyValue {
  const strict = options.strict ?? true;
  if (strict && !needsFaithfulParse(text)) {
    try {
      return JSON.parse(text) as PyValue;
    } catch {
      // fall through: the faithful parser accepts NaN/Infinity and locates real errors
    }
  }
  return new FaithfulParser(text, strict).parseDocument();
}

// Text that may hold a float with an integral value (`1.0`, `2e5`, or one with 16 digits or more
// that rounds to an integer: `99999999.999999999`), an integer beyond 2^53, or an index-like key
// (also written with escapes: `"\u0031"`). Shorter numbers are safe: up to 15 significant digits,
// a decimal survives the round trip through a double, so it is integral only if its fraction is
// all zeros. The pattern also matches inside strings ("version 1.0"): a false alarm only costs
// the slower parser.
const MAY_NEED_CARE = /[0-9]\.0*(?![0-9])|[0-9][eE]|[0-9.]{16}|"(?:0|[1-9][0-9]*)"\s*:|\\u003[0-9]/;

/** False when JSON.parse is known to keep everything Python keeps (see the module comment). */
function needsFaithfulParse(text: string): boolean {
  return MAY_NEED_CARE.test(text);
}

function isJsonWhitespace(unit: number): boolean {
  return unit === 0x20 || unit === 0x0a || unit === 0x0d || unit === 0x09;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const PLAIN_RUN_STRICT = /[^"\\\u0000-\u001f]*/y;
const PLAIN_RUN_LENIENT = /[^"\\]*/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class FaithfulParser {
  private position = 0;
  private readonly path: (string | number)[] = [];

  constructor(
    private readonly text: string,
    private readonly strict: boolean,
  ) {}

  parseDocument(): PyValue {
    this.skipWhitespace();
    const value = this.parseValue();
    this.skipWhitespace();
    if (this.position < this.text.length) this.fail('the end of the document');
    return value;
  }

  private parseValue(): PyValue {
    const unit = this.text.charCodeAt(this.position);
    switch (unit) {
      case 0x7b: // {
        return this.parseObject();
      case 0x5b: // [
        return this.parseArray();
      case 0x22: // "
        return this.parseString();
      case 0x74: // t
        return this.parseLiteral('true', true);
      case 0x66: // f
        return this.parseLiteral('false', false);
      case 0x6e: // n
        return this.parseLiteral('null', null);
      case 0x4e: // N
        return this.parseLiteral('NaN', Number.NaN);
      case 0x49: // I
        return this.parseLiteral('Infinity', Number.POSITIVE_INFINITY);
      default:
        if (unit === 0x2d && this.text.startsWith('-Infinity', this.position)) {
          return this.parseLiteral('-Infinity', Number.NEGATIVE_INFINITY);
        }
        if (unit === 0x2d || (unit >= 0x30 && unit <= 0x39)) return this.parseNumber();
        return this.fail('a JSON value');
    }
  }

  private parseLiteral<T extends PyValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.position)) this.fail('a JSON value');
    this.position += word.length;
    return value;
  }

  private parseNumber(): PyValue {
    NUMBER.lastIndex = this.position;
    const match = NUMBER.exec(this.text);
    if (match === null) return this.fail('a number');
    this.position = NUMBER.lastIndex;
    const token = match[0];
    if (match[1] !== undefined || match[2] !== undefined) {
      const value = Number(token);
      return Number.isInteger(value) ? new PyFloat(value) : value;
    }
    const value = Number(token);
    if (Number.isSafeInteger(value)) return value === 0 ? 0 : value; // Python has no integer -0
    return BigInt(token);
  }

  private parseString(): string {
    const text = this.text;
    const plainRun = this.strict ? PLAIN_RUN_STRICT : PLAIN_RUN_LENIENT;
    let position = this.position + 1;
    let out = '';
    for (;;) {
      plainRun.lastIndex = position;
      plainRun.test(text); // sticky: always matches, possibly empty
      const runEnd = plainRun.lastIndex;
      const unit = text.charCodeAt(runEnd);
      if (unit === 0x22) {
        this.position = runEnd + 1;
        return out === '' ? text.slice(position, runEnd) : out + text.slice(position, runEnd);
      }
      out += text.slice(position, runEnd);
      this.position = runEnd;
      if (Number.isNaN(unit)) return this.fail('a closing \'"\' (the string is not terminated)');
      if (unit !== 0x5c) return this.fail('no raw control character inside a string (write it as an escape)');
      const escape = text[runEnd + 1] ?? '';
      const simple = SIMPLE_ESCAPES[escape];
      if (simple !== undefined) {
        out += simple;
        position = runEnd + 2;
      } else if (escape === 'u' && HEX4.test(text.slice(runEnd + 2, runEnd + 6))) {
        out += String.fromCharCode(Number.parseInt(text.slice(runEnd + 2, runEnd + 6), 16));
        position = runEnd + 6;
      } else {
        return this.fail('a valid escape (\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX)');
      }
    }
  }

  private parseArray(): PyValue[] {
    this.position++; // [
    const items: PyValue[] = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.position) === 0x5d) {
      this.position++;
      return items;
    }
    for (;;) {
      this.path.push(items.length);
      this.skipWhitespace();
      items.push(this.parseValue());
      this.path.pop();
      this.skipWhitespace();
      const unit = this.text.charCodeAt(this.position);
      this.position++;
      if (unit === 0x5d) return items;
      if (unit !== 0x2c) {
        this.position--;
        return this.fail("',' or ']' after an array item");
      }
    }
  }

  private parseObject(): PyValue {
    this.position++; // {
    const object: { [key: string]: PyValue } = {};
    const order: string[] = [];
    let hasIndexLikeKey = false;
    this.skipWhitespace();
    if (this.text.charCodeAt(this.position) === 0x7d) {
      this.position++;
      return object;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text.charCodeAt(this.position) !== 0x22) return this.fail('a property name in double quotes');
      const key = this.parseString();
      this.skipWhitespace();
      if (this.text.charCodeAt(this.position) !== 0x3a) return this.fail("':' after a property name");
      this.position++;
      this.skipWhitespace();
      this.path.push(key);
      const value = this.parseValue();
      this.path.pop();
      order.push(key);
      const first = key.charCodeAt(0);
      if (first >= 0x30 && first <= 0x39 && isIndexLikeKey(key)) hasIndexLikeKey = true;
      if (key === '__proto__') defineKey(object, key, value);
      else object[key] = value;
      this.skipWhitespace();
      const unit = this.text.charCodeAt(this.position);
      this.position++;
      if (unit === 0x7d) break;
      if (unit !== 0x2c) {
        this.position--;
        return this.fail("',' or '}' after an object member");
      }
    }
    // A repeated key keeps its first position (Python dict semantics): drop later repeats.
    if (hasIndexLikeKey) attachKeyOrder(object, [...new Set(order)]);
    return object;
  }

  private skipWhitespace(): void {
    while (isJsonWhitespace(this.text.charCodeAt(this.position))) this.position++;
  }

  private fail(expected: string): never {
    const before = this.text.slice(0, this.position);
    const line = before.split('\n').length;
    const column = this.position - before.lastIndexOf('\n');
    const jsonPath = this.path.reduce<string>((path, segment) => childPath(path, segment), '$');
    throw new JsonSyntaxError(expected, this.position, line, column, jsonPath);
  }
}
