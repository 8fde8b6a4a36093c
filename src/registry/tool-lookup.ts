/** Finding one tool by the names people use for it. */
import { standardize } from './names.js';
import type { ToolDocument, ToolLocation } from './tool-document.js';
import type { ToolEnvironment } from './tool-environment.js';

export type ToolLookup =
  | { readonly kind: 'found'; readonly tool: ToolDocument }
  | { readonly kind: 'ambiguous'; readonly candidates: readonly ToolLocation[] }
  | { readonly kind: 'missing'; readonly similar: readonly ToolLocation[] };

/**
 * `Category/standard_name`, a standard name (`olato_quotes`) or an original tool name
 * (`Olato Quotes`). A name found in several categories is ambiguous; for a name found nowhere,
 * tools whose standard names contain it (or are contained in it) are suggested.
 */
export function lookupTool(environment: ToolEnvironment, name: string): ToolLookup {
  const slash = name.indexOf('/');
  if (slash > 0) {
    const category = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    const tool = environment.find(category, rest) ?? environment.find(category, standardize(rest));
    return tool === undefined ? { kind: 'missing', similar: [] } : { kind: 'found', tool };
  }
  const byFile = new Map<string, ToolLocation>();
  for (const location of [...environment.locate(name), ...environment.locate(standardize(name))]) byFile.set(location.file, location);
  const candidates = [...byFile.values()];
  const [only] = candidates;
  if (candidates.length === 1 && only !== undefined) return { kind: 'found', tool: environment.load(only) };
  if (candidates.length > 1) return { kind: 'ambiguous', candidates };
  const wanted = standardize(name);
  const similar =
    wanted === ''
      ? []
      : environment
          .allToolFiles()
          .filter(({ standardName }) => standardName !== '' && (standardName.includes(wanted) || wanted.includes(standardName)));
  return { kind: 'missing', similar: similar.slice(0, 5) };
}
