/**
 * Python's `str.format(**fields)` for named fields, as ToolEval fills its judge prompts
 * (tooleval.md §3.3): `{name}` is replaced by `str(value)` (strings raw, anything else as its
 * repr), `{{` and `}}` are literal braces. Format specs and conversions are not used by any
 * template, so they are refused rather than half-supported.
 */
import { pyStr } from './pyrepr.js';

export class PyFormatError extends Error {}

export function pyFormat(template: string, fields: Readonly<Record<string, unknown>>): string {
  let out = '';
  let index = 0;
  while (index < template.length) {
    const character = template[index] as string;
    if (character === '{') {
      if (template[index + 1] === '{') {
        out += '{';
        index += 2;
        continue;
      }
      const end = template.indexOf('}', index);
      if (end < 0) throw new PyFormatError("Single '{' encountered in format string");
      const name = template.slice(index + 1, end);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new PyFormatError(`unsupported replacement field {${name}}`);
      if (!Object.prototype.hasOwnProperty.call(fields, name)) throw new PyFormatError(`KeyError: '${name}'`);
      out += pyStr(fields[name]);
      index = end + 1;
    } else if (character === '}') {
      if (template[index + 1] !== '}') throw new PyFormatError("Single '}' encountered in format string");
      out += '}';
      index += 2;
    } else {
      const next = template.slice(index).search(/[{}]/);
      const stop = next < 0 ? template.length : index + next;
      out += template.slice(index, stop);
      index = stop;
    }
  }
  return out;
}
