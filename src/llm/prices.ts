/**
 * Model prices, to turn token usage into US dollars. The defaults ship inside the executable
 * (a YAML string); a user file with the same layout is merged over them (`--prices FILE`).
 *
 * A model name is matched exactly first, then by the longest table key that is a prefix of it
 * followed by `-`: `gpt-4o-2024-08-06` is priced as `gpt-4o`, while `gpt-4o-mini` keeps its own
 * entry. An unknown model has no price and costs 0.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describeJsonType, inputError } from '../util/errors.js';
import { childPath } from '../util/json-path.js';
import type { TokenUsage } from './backbone.js';

/** US dollars per 1M tokens. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
}

export interface PriceTable {
  /** The price of a model by the matching rule above; `undefined` when no entry matches. */
  priceOf(model: string): ModelPrice | undefined;
  /** Dollars for one call's usage; 0 for a model without a price. */
  costOf(model: string, usage: TokenUsage): number;
}

/**
 * The built-in table. Dated variants are listed where their price differs from the base name's,
 * so that prefix matching does not price them as the base model.
 */
export const DEFAULT_PRICES_YAML = `# US dollars per 1M tokens, standard (uncached, non-batch) rates.
# A snapshot of OpenAI's public price list (mid 2025); prices change, so check them and
# override any entry with a file of the same layout (models: {name: {input, output}}).
models:
  gpt-5: {input: 1.25, output: 10.0}
  gpt-5-mini: {input: 0.25, output: 2.0}
  gpt-5-nano: {input: 0.05, output: 0.4}
  gpt-4.1: {input: 2.0, output: 8.0}
  gpt-4.1-mini: {input: 0.4, output: 1.6}
  gpt-4.1-nano: {input: 0.1, output: 0.4}
  gpt-4o: {input: 2.5, output: 10.0}
  gpt-4o-2024-05-13: {input: 5.0, output: 15.0}
  gpt-4o-mini: {input: 0.15, output: 0.6}
  gpt-4-turbo: {input: 10.0, output: 30.0}
  gpt-4-turbo-2024-04-09: {input: 10.0, output: 30.0} # StableToolBench's default model
  gpt-4-0125-preview: {input: 10.0, output: 30.0}
  gpt-4-1106-preview: {input: 10.0, output: 30.0}
  gpt-4: {input: 30.0, output: 60.0}
  gpt-4-32k: {input: 60.0, output: 120.0}
  gpt-3.5-turbo: {input: 0.5, output: 1.5}
  gpt-3.5-turbo-1106: {input: 1.0, output: 2.0}
  gpt-3.5-turbo-0613: {input: 1.5, output: 2.0}
  gpt-3.5-turbo-instruct: {input: 1.5, output: 2.0}
  gpt-3.5-turbo-16k: {input: 3.0, output: 4.0}
  gpt-3.5-turbo-16k-0613: {input: 3.0, output: 4.0} # ToolBench's model
  o1: {input: 15.0, output: 60.0}
  o1-mini: {input: 1.1, output: 4.4}
  o3: {input: 2.0, output: 8.0}
  o3-mini: {input: 1.1, output: 4.4}
  o4-mini: {input: 1.1, output: 4.4}
`;

const BUILT_IN = '<built-in prices>';

/** The built-in prices, with the models of `file` (if given) added or replacing them. */
export function loadPriceTable(file?: string): PriceTable {
  const prices = parsePrices(DEFAULT_PRICES_YAML, BUILT_IN);
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'an unreadable file';
      throw inputError(file, '$', 'a YAML price file', { got: reason, cause: error });
    }
    for (const [model, price] of parsePrices(text, file)) prices.set(model, price);
  }
  return createPriceTable(prices);
}

/** A table from explicit entries (tests, and callers that build prices in code). */
export function createPriceTable(entries: Iterable<readonly [string, ModelPrice]>): PriceTable {
  const prices = new Map(entries);
  const keysLongestFirst = [...prices.keys()].sort((a, b) => b.length - a.length);
  const priceOf = (model: string): ModelPrice | undefined => {
    const exact = prices.get(model);
    if (exact !== undefined) return exact;
    const key = keysLongestFirst.find((candidate) => model.startsWith(`${candidate}-`));
    return key === undefined ? undefined : prices.get(key);
  };
  return {
    priceOf,
    costOf(model: string, usage: TokenUsage): number {
      const price = priceOf(model);
      if (price === undefined) return 0;
      return (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1_000_000;
    },
  };
}

/** `models: {name: {input, output}}`, each price a non-negative number. */
function parsePrices(text: string, file: string): Map<string, ModelPrice> {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw inputError(file, '$', 'a YAML document', { got: `a syntax error (${(error as Error).message.split('\n')[0]})`, cause: error });
  }
  if (!isMapping(document)) throw inputError(file, '$', 'a mapping with a `models` key', { got: describeJsonType(document ?? null) });
  const models = document['models'];
  if (!isMapping(models)) {
    throw inputError(file, '$.models', 'a mapping of model names to {input, output}', { got: describeJsonType(models ?? null) });
  }
  const prices = new Map<string, ModelPrice>();
  for (const [model, entry] of Object.entries(models)) {
    const path = childPath('$.models', model);
    if (!isMapping(entry)) throw inputError(file, path, 'a mapping {input, output}', { got: describeJsonType(entry ?? null) });
    prices.set(model, { input: dollars(entry, 'input', file, path), output: dollars(entry, 'output', file, path) });
  }
  return prices;
}

function dollars(entry: Record<string, unknown>, key: 'input' | 'output', file: string, path: string): number {
  const value = entry[key];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw inputError(file, childPath(path, key), 'a non-negative number of US dollars per 1M tokens', {
      got: value === undefined ? 'nothing' : typeof value === 'number' ? String(value) : describeJsonType(value),
    });
  }
  return value;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
