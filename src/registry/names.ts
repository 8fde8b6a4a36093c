/**
 * Name rules shared by every part of ToolBench (spec algorithms.md §2, formats.md §0): how tool,
 * API, parameter and category names become identifiers, and how function names are built.
 */
import { pyTail } from '../util/py-string.js';

export interface NameOptions {
  /**
   * Prefix `get_` to API and parameter names that start with a digit (upstream HEAD). The 2023
   * code that produced ToolEval's reference predictions did not (`7_get_order_history_for_...`).
   */
  readonly digitPrefix: boolean;
}

export const DEFAULT_NAME_OPTIONS: NameOptions = Object.freeze({ digitPrefix: true });

// Upstream's class is [^\u4e00-\u9fa5^a-z^A-Z^0-9^_]: the stray carets make '^' a kept character.
const NOT_KEPT = /[^\u4e00-\u9fa5^a-zA-Z0-9_]/gu;
const UNDERSCORE_RUN = /_{2,}/g;
const EDGE_UNDERSCORES = /^_+|_+$/g;

/** `standardize(s)`: `Love Quote` → `love_quote`, `3D Models` → `get_3d_models`, `___` → ``. */
export function standardize(name: string, options: NameOptions = DEFAULT_NAME_OPTIONS): string {
  const kept = name.replace(NOT_KEPT, '_').replace(UNDERSCORE_RUN, '_').toLowerCase().replace(EDGE_UNDERSCORES, '');
  if (kept === '') return '';
  const first = kept.charCodeAt(0);
  return options.digitPrefix && first >= 0x30 && first <= 0x39 ? `get_${kept}` : kept;
}

const PYTHON_WORDS: ReadonlySet<string> = new Set(['from', 'class', 'return', 'false', 'true', 'id', 'and']);

/** `change_name(s)`: names that are Python keywords or builtins upstream get an `is_` prefix. */
export function changeName(name: string): string {
  return PYTHON_WORDS.has(name) ? `is_${name}` : name;
}

/** The name an API is called by inside its tool: `change_name(standardize(api name))`. */
export function pureApiName(apiName: string, options: NameOptions = DEFAULT_NAME_OPTIONS): string {
  return changeName(standardize(apiName, options));
}

/** The name a parameter is exposed as: `change_name(standardize(parameter name))`. */
export function parameterName(name: string, options: NameOptions = DEFAULT_NAME_OPTIONS): string {
  return changeName(standardize(name, options));
}

/** Upstream keeps only the last 64 characters of `<pure api>_for_<standard tool>`. */
const FUNCTION_NAME_MAX_LENGTH = 64;

export function functionName(pureApi: string, standardToolName: string): string {
  return pyTail(`${pureApi}_for_${standardToolName}`, FUNCTION_NAME_MAX_LENGTH);
}

/**
 * `standardize_category(c)`: spaces, commas and slashes become `_`, then one left-to-right pass
 * replaces `__` by `_` (so `___` becomes `__`). `News, Media` → `News_Media`.
 */
export function standardizeCategory(category: string): string {
  return category.replace(/[ ,/]/g, '_').replaceAll('__', '_');
}
