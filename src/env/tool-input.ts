/**
 * The model's arguments text as the tool servers read it: `json.loads(tool_input)`, with `""`
 * meaning no arguments (formats.md §12.3 step 2, §13.1 step 3).
 */
import { pyJsonParse } from '../util/pyjson-parse.js';
import { isPyObject, type PyObject, type PyValue } from '../util/py-value.js';

/**
 * The virtual server's reading: any JSON value (its cache key is `str()` of it); an object sent
 * already parsed is used as is; undefined when the text is not JSON. Python's json.loads raises
 * RecursionError on very deep nesting, which is unparsable input too.
 */
export function parseToolInput(toolInput: string | PyValue): PyValue | undefined {
  if (typeof toolInput !== 'string') return isPyObject(toolInput) ? toolInput : undefined;
  if (toolInput === '') return {};
  try {
    return pyJsonParse(toolInput);
  } catch {
    return undefined;
  }
}

/**
 * The local tool runner's reading: the arguments must be an object to be passed by name.
 * Upstream crashes on other JSON (`.items()`) unless it is empty (`[]`, `""`: no arguments); we
 * treat the crashing cases as unparsable input.
 */
export function parseToolArguments(args: string): PyObject | undefined {
  const value = parseToolInput(args);
  if (value === undefined || isPyObject(value)) return value;
  if ((Array.isArray(value) || typeof value === 'string') && value.length === 0) return {};
  return undefined;
}
