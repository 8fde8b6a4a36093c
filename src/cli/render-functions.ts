/** Function schemas as text for people (the exact JSON is what --json prints). */
import type { OpenAIFunction } from '../registry/function-schema.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { orderedKeys } from '../util/py-value.js';

interface RenderedProperty {
  readonly type: string;
  readonly example_value?: unknown;
  readonly enum?: readonly string[];
}

/** One block per function: its name, the API description, one line per parameter. */
export function renderFunctions(functions: readonly OpenAIFunction[]): string {
  const lines: string[] = [];
  for (const fn of functions) {
    const detail = fn.description.match(/The description of this function is: "([\s\S]*)"$/)?.[1];
    lines.push(fn.name, `    ${oneLine(detail ?? fn.description)}`, ...describeParameters(fn).map((line) => `    ${line}`));
  }
  return `${lines.join('\n')}\n`;
}

/** `- name: type, required, e.g. <example>` for each parameter, in schema order. */
export function describeParameters(fn: OpenAIFunction): string[] {
  const properties = fn.parameters.properties as Readonly<Record<string, RenderedProperty>>;
  const required: readonly string[] = fn.parameters.required;
  return orderedKeys(properties).map((name) => {
    const property = properties[name] as RenderedProperty;
    const choices = property.enum === undefined ? '' : ` (${property.enum.join(' | ')})`;
    const example = property.example_value === undefined ? '' : `, e.g. ${pyJsonDumps(property.example_value, { ensureAscii: false })}`;
    return `- ${name}: ${property.type}${choices}, ${required.includes(name) ? 'required' : 'optional'}${example}`;
  });
}

/** Whitespace collapsed, cut to `width` characters with an ellipsis. */
export function oneLine(text: string, width = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}
