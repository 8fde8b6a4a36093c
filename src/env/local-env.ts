/**
 * Custom local tools (`--api_customization`, spec algorithms.md §5.5): JavaScript modules in
 * place of upstream's hand-written `api.py`, at `<toolsRoot>/<Category>/<tool>/api.mjs` (or
 * `api.js`; `api.ts` when this Node can import it). A module exports one function per API, named
 * by the pure API name (`export function get_hello_world(args) {...}`); it is called with the
 * arguments object and awaited, and its result goes through the same steps as a RapidAPI result
 * (formats.md §12.3 steps 4–6). Nothing else is read: the tool JSON is not needed.
 *
 * A thrown error, and a module or export that cannot be loaded, become upstream's
 * `Function executing <import> error...\n<message>` reply (upstream lets an import error crash
 * the runner; a reply the model and the user can read is kinder).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PyFloat, defineKey, isPyObject, orderedKeys, type PyObject, type PyValue } from '../util/py-value.js';
import { isSafeSegment } from '../util/path-segment.js';
import type { ResponseExamples } from './response-examples.js';
import type { ApiRef, BackendAnswer, CallOptions, ObservationCompress, ToolBackend } from './tool-call.js';
import {
  functionErrorReply,
  importStatement,
  toServerReply,
  toolInputErrorReply,
  type ServerReply,
} from './tool-result.js';
import { parseToolArguments } from './tool-input.js';

export interface LocalBackendOptions {
  /** The `tools` folder holding `<Category>/<tool>/api.mjs`. */
  readonly toolsRoot: string;
  readonly compress: ObservationCompress;
  readonly examples: ResponseExamples;
  /** Uniform draw in [0, 1) for `random` compression. */
  readonly draw: (api: ApiRef, args: string) => number;
  /** Loads a module by its file URL; dynamic `import()` unless a test replaces it. */
  readonly importModule?: (url: string) => Promise<unknown>;
}

/** Tried in this order; the first that exists is the tool's module. */
const MODULE_FILES = ['api.mjs', 'api.js', 'api.ts'] as const;

type LoadedModule = { readonly kind: 'module'; readonly exports: object } | { readonly kind: 'error'; readonly message: string };

export function createLocalBackend(options: LocalBackendOptions): ToolBackend {
  const importModule = options.importModule ?? ((url: string) => import(url) as Promise<unknown>);
  // One import per tool folder; a module that failed to load keeps failing, as Node's own cache does.
  const modules = new Map<string, Promise<LoadedModule>>();
  const reply = (value: ServerReply): BackendAnswer => ({ kind: 'reply', reply: { ...value }, source: 'local' });

  const load = (api: ApiRef): Promise<LoadedModule> => {
    const key = `${api.category}/${api.tool}`;
    let loaded = modules.get(key);
    if (loaded === undefined) {
      loaded = loadModule(options.toolsRoot, api, importModule);
      modules.set(key, loaded);
    }
    return loaded;
  };

  return {
    async answer(ref: ApiRef, args: string, callOptions?: CallOptions): Promise<BackendAnswer> {
      callOptions?.signal?.throwIfAborted();
      const statement = importStatement(ref);
      const input = parseToolArguments(args);
      if (input === undefined) return reply(toolInputErrorReply());
      const loaded = await load(ref);
      if (loaded.kind === 'error') return reply(functionErrorReply(statement, loaded.message));
      const handler = findExport(loaded.exports, ref.api);
      if (handler === undefined) {
        return reply(functionErrorReply(statement, `cannot import name '${ref.api}' from '${moduleName(ref)}'`));
      }
      if (typeof handler !== 'function') return reply(functionErrorReply(statement, `'${typeof handler}' object is not callable`));
      let result: unknown;
      try {
        result = await handler(toPlainArguments(input));
      } catch (error) {
        return reply(functionErrorReply(statement, error));
      }
      const schema = options.compress === 'truncate' ? undefined : options.examples.schemaFor(ref);
      try {
        return reply(toServerReply(result, { compress: options.compress, schema, draw: () => options.draw(ref, args) }));
      } catch (error) {
        // pyrepr cannot print functions or symbols (TypeError) or cyclic values (RangeError).
        if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
        return reply(functionErrorReply(statement, `${ref.api}() returned a value that cannot be printed: ${error.message}`));
      }
    },
    async close(): Promise<void> {
      modules.clear();
    },
  };
}

async function loadModule(root: string, api: ApiRef, importModule: (url: string) => Promise<unknown>): Promise<LoadedModule> {
  // Category and tool come from the model's call: each must stay one folder below the root.
  const file = isSafeSegment(api.category) && isSafeSegment(api.tool) ? findModuleFile(join(root, api.category, api.tool)) : undefined;
  if (file === undefined) {
    return {
      kind: 'error',
      message: `No module named '${moduleName(api)}' (expected ${api.category}/${api.tool}/${MODULE_FILES.join(', ')} in the tools folder)`,
    };
  }
  try {
    const exports = await importModule(pathToFileURL(file).href);
    return { kind: 'module', exports: typeof exports === 'object' && exports !== null ? exports : {} };
  } catch (error) {
    if (file.endsWith('.ts') && (error as { code?: unknown }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      return { kind: 'error', message: `this Node cannot import ${api.category}/${api.tool}/api.ts: compile it to api.mjs` };
    }
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

function findModuleFile(directory: string): string | undefined {
  for (const name of MODULE_FILES) {
    const file = join(directory, name);
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // missing or unreadable: try the next name
    }
  }
  return undefined;
}

/** A named export, or a property of the default export (a CommonJS `api.js`). */
function findExport(exports: object, name: string): unknown {
  if (Object.hasOwn(exports, name)) return (exports as Record<string, unknown>)[name];
  const fallback = (exports as { default?: unknown }).default;
  if (typeof fallback === 'object' && fallback !== null && Object.hasOwn(fallback, name)) {
    return (fallback as Record<string, unknown>)[name];
  }
  return undefined;
}

function moduleName(api: ApiRef): string {
  return `toolenv.tools.${api.category}.${api.tool}.api`;
}

/**
 * The arguments as plain JavaScript: floats with integral values (`1.0`, kept as PyFloat to print
 * like Python) become numbers. Integers beyond 2^53 stay bigints: a number would lose digits.
 */
function toPlainArguments(input: PyObject): Record<string, unknown> {
  return toPlain(input) as Record<string, unknown>;
}

function toPlain(value: PyValue): unknown {
  if (value instanceof PyFloat) return value.value;
  if (Array.isArray(value)) return (value as readonly PyValue[]).map(toPlain);
  if (isPyObject(value)) {
    const object: Record<string, unknown> = {};
    for (const key of orderedKeys(value)) defineKey(object, key, toPlain(value[key] as PyValue));
    return object;
  }
  return value;
}
