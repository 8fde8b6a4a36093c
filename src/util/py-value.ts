/**
 * Values as Python's `json` module sees them, represented in JavaScript without losing what
 * Python would print back (spec formats.md §0).
 *
 * Three things a plain `JSON.parse` loses:
 * - a float with an integral value (`1000.0`) becomes the number 1000, which Python prints as
 *   `1000.0` but we would print as `1000`: such floats are wrapped in {@link PyFloat};
 * - an integer beyond 2^53 loses digits: it becomes a `bigint`;
 * - an object whose keys look like array indices (`{"608": 0, "588": 0}`) is reordered by
 *   JavaScript (integer keys first, ascending): the original order is kept under
 *   {@link KEY_ORDER}; read it with {@link orderedKeys}.
 */

/** A Python float whose value is integral (so JavaScript would print it as an integer). */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyFloat
  | readonly PyValue[]
  | { readonly [key: string]: PyValue };

export type PyObject = { readonly [key: string]: PyValue };

/** True for a JSON object (not an array, not a PyFloat). */
export function isPyObject(value: unknown): value is PyObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Python's truthiness of a JSON value: None, False, 0, 0.0, "", [] and {} are false. */
export function isPyTruthy(value: PyValue | undefined): boolean {
  if (value === undefined || value === null || value === false || value === '') return false;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'bigint') return value !== 0n;
  if (value instanceof PyFloat) return value.value !== 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isPyObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Insertion order of an object's keys, stored only where JavaScript's own order differs. */
const KEY_ORDER: unique symbol = Symbol('toolbench.keyOrder');

type MaybeOrdered = { [KEY_ORDER]?: readonly string[] };

/**
 * Keys in the order Python would iterate them (insertion order). The order recorded at parse
 * time is reconciled with the object as it is now: deleted keys drop out, added keys come last.
 * Copies (spread, structuredClone) do not carry the recorded order.
 */
export function orderedKeys(object: object): readonly string[] {
  const recorded = (object as MaybeOrdered)[KEY_ORDER];
  if (recorded === undefined) return Object.keys(object);
  const present = Object.keys(object);
  const kept = recorded.filter((key) => Object.prototype.hasOwnProperty.call(object, key));
  if (kept.length === present.length) return kept;
  const known = new Set(kept);
  return [...kept, ...present.filter((key) => !known.has(key))];
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/** True when JavaScript would move this key to the front of an object (canonical array index). */
export function isIndexLikeKey(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) < 2 ** 32 - 1;
}

/**
 * Builds an object from entries in the given order, as a Python dict would keep it: a later
 * duplicate key overwrites the value but keeps the first position.
 */
export function orderedObject<V>(entries: Iterable<readonly [string, V]>): { [key: string]: V } {
  const object: { [key: string]: V } = {};
  const order: string[] = [];
  let needsOrder = false;
  for (const [key, value] of entries) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) {
      order.push(key);
      if (isIndexLikeKey(key)) needsOrder = true;
    }
    defineKey(object, key, value);
  }
  if (needsOrder) attachKeyOrder(object, order);
  return object;
}

/** Sets `object[key]`, also for `__proto__`, which plain assignment would treat as the prototype. */
export function defineKey<V>(object: { [key: string]: V }, key: string, value: V): void {
  if (key === '__proto__') {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    object[key] = value;
  }
}

export function attachKeyOrder(object: object, order: readonly string[]): void {
  const natural = Object.keys(object);
  if (natural.every((key, index) => key === order[index])) return;
  Object.defineProperty(object, KEY_ORDER, { value: Object.freeze([...order]), enumerable: false });
}

/**
 * Python `repr(float)`: the shortest text that round-trips, always with a `.0` or an exponent;
 * exponent form when the decimal exponent is below -4 or at least 16 (`1e-05`, `1e+16`).
 * `nonFinite` chooses between `json.dumps` (`NaN`, `Infinity`) and `repr` (`nan`, `inf`).
 */
export function formatPyFloat(value: number, nonFinite: 'json' | 'repr'): string {
  if (Number.isNaN(value)) return nonFinite === 'json' ? 'NaN' : 'nan';
  if (!Number.isFinite(value)) {
    const text = nonFinite === 'json' ? 'Infinity' : 'inf';
    return value < 0 ? `-${text}` : text;
  }
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  // toExponential() without a digit count gives the shortest round-trip digits.
  const [mantissa = '', exponentText = '0'] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText); // value = d.ddd × 10^exponent
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const magnitude = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${fraction}e${exponent < 0 ? '-' : '+'}${magnitude}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const integerPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fractionPart = digits.slice(exponent + 1);
  return `${sign}${integerPart}.${fractionPart === '' ? '0' : fractionPart}`;
}

/** Python's text for a number: `int` digits, or a float repr for non-integral values. */
export function formatPyNumber(value: number | bigint | PyFloat, nonFinite: 'json' | 'repr'): string {
  if (value instanceof PyFloat) return formatPyFloat(value.value, nonFinite);
  if (typeof value === 'bigint') return value.toString();
  if (Number.isInteger(value)) return BigInt(value).toString(); // no "1e+21", no "-0"
  return formatPyFloat(value, nonFinite);
}
