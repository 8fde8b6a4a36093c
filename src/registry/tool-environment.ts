/**
 * A tool environment directory: `<root>/<Category>/<standard tool name>.json` (spec formats.md §1.1).
 *
 * Loading is lazy and indexed: opening lists one folder; a query's tools are opened by their path
 * (`<category>/<standardize(tool_name)>.json`, as upstream does) and parsed once; directory
 * listings are read per category on first need. Only `loadAll` parses every file.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { ToolbenchError, usageError } from '../util/errors.js';
import { isSafeSegment } from '../util/path-segment.js';
import { fileError, readJsonFile } from '../util/json-file.js';
import { parseToolDocument, type ToolDocument, type ToolLocation } from './tool-document.js';

export interface ToolProblem {
  readonly file: string;
  readonly message: string;
}

export interface LoadedTools {
  readonly tools: readonly ToolDocument[];
  readonly problems: readonly ToolProblem[];
}

/** `toolbench-2023` when the files carry `standardized_name`, else `toolenv2404`. */
export type ToolLayout = 'toolbench-2023' | 'toolenv2404';

export class ToolEnvironment {
  private categoryList: readonly string[] | undefined;
  private readonly filesByCategory = new Map<string, readonly ToolLocation[]>();
  private readonly documents = new Map<string, ToolDocument | ToolbenchError | 'missing'>();
  private byStandardName: Map<string, ToolLocation[]> | undefined;

  private constructor(readonly root: string) {}

  /**
   * Opens `dir`, which is either the `tools/` folder itself or a `toolenv/` folder holding one
   * (a sub-folder named exactly `tools` that holds no `.json` file: a category would).
   * Throws a usage error (exit 2) when it is not a directory.
   */
  static open(dir: string): ToolEnvironment {
    const kind = kindOf(dir);
    if (kind !== 'directory') throw usageError(`--tools ${dir}: ${kind === 'missing' ? 'no such directory' : 'not a directory'}`);
    const nested = join(dir, 'tools');
    const holdsTools = readDirectory(dir).some((entry) => entry.name === 'tools' && entryKind(dir, entry) === 'directory');
    return new ToolEnvironment(holdsTools && jsonFilesIn(nested).length === 0 ? nested : dir);
  }

  /** Category directory names, sorted (symbolic links followed, as upstream's os.path.isdir does). */
  categories(): readonly string[] {
    this.categoryList ??= readDirectory(this.root)
      .filter((entry) => entryKind(this.root, entry) === 'directory')
      .map((entry) => entry.name)
      .sort(compareText);
    return this.categoryList;
  }

  /**
   * The tool files of one category, sorted. As upstream: every file whose name ends in `.json`
   * (hidden ones too: a tool whose name standardizes to `` is stored as `.json`); the standard
   * tool name is the file name up to its first `.`. Sub-directories (`<tool>/api.py`) are skipped.
   */
  toolFiles(category: string): readonly ToolLocation[] {
    let files = this.filesByCategory.get(category);
    if (files === undefined) {
      files = isSafeSegment(category) ? listToolFiles(this.root, category) : [];
      this.filesByCategory.set(category, files);
    }
    return files;
  }

  allToolFiles(): readonly ToolLocation[] {
    return this.categories().flatMap((category) => this.toolFiles(category));
  }

  /** Every file, in any category, whose standard tool name is `standardName`. */
  locate(standardName: string): readonly ToolLocation[] {
    if (this.byStandardName === undefined) {
      this.byStandardName = new Map();
      for (const location of this.allToolFiles()) {
        const same = this.byStandardName.get(location.standardName);
        if (same === undefined) this.byStandardName.set(location.standardName, [location]);
        else same.push(location);
      }
    }
    return this.byStandardName.get(standardName) ?? [];
  }

  /**
   * The tool stored as `<category>/<standardName>.json`, or undefined when there is no such file.
   * A malformed file throws its input error (exit 2), every time it is asked for.
   */
  find(category: string, standardName: string): ToolDocument | undefined {
    if (!isSafeSegment(category) || !isSafeSegment(`${standardName}.json`)) return undefined;
    const file = join(this.root, category, `${standardName}.json`);
    const cached = this.documents.get(file);
    if (cached === 'missing') return undefined;
    if (cached !== undefined) return unwrap(cached);
    if (kindOf(file) !== 'file') {
      this.documents.set(file, 'missing');
      return undefined;
    }
    return this.load({ file, category, standardName });
  }

  /** Parses one tool file (once; later calls return the same document or error). */
  load(location: ToolLocation): ToolDocument {
    let entry = this.documents.get(location.file);
    if (entry === undefined || entry === 'missing') {
      try {
        entry = parseToolDocument(readJsonFile(location.file), location);
      } catch (error) {
        if (!(error instanceof ToolbenchError)) throw error;
        entry = error;
      }
      this.documents.set(location.file, entry);
    }
    return unwrap(entry);
  }

  /**
   * Parses every tool file. Bad files and unreadable category folders are collected as
   * problems, or thrown with `strict`.
   */
  loadAll(options: { strict?: boolean; category?: string } = {}): LoadedTools {
    const tools: ToolDocument[] = [];
    const problems: ToolProblem[] = [];
    const attempt = (file: string, work: () => void): void => {
      try {
        work();
      } catch (error) {
        if (options.strict || !(error instanceof ToolbenchError)) throw error;
        problems.push({ file, message: error.message });
      }
    };
    for (const category of options.category === undefined ? this.categories() : [options.category]) {
      attempt(join(this.root, category), () => {
        for (const location of this.toolFiles(category)) attempt(location.file, () => tools.push(this.load(location)));
      });
    }
    return { tools, problems };
  }
}

export function detectLayout(tools: readonly ToolDocument[]): ToolLayout {
  return tools.some((tool) => tool.standardizedName !== undefined) ? 'toolbench-2023' : 'toolenv2404';
}

function listToolFiles(root: string, category: string): readonly ToolLocation[] {
  return jsonFilesIn(join(root, category))
    .sort(compareText)
    .map((name) => ({ file: join(root, category, name), category, standardName: name.split('.')[0] as string }));
}

/** Names of the regular files (or links to them) ending in `.json` directly inside `directory`. */
function jsonFilesIn(directory: string): string[] {
  return readDirectory(directory)
    .filter((entry) => entry.name.endsWith('.json') && entryKind(directory, entry) === 'file')
    .map((entry) => entry.name);
}

function unwrap(entry: ToolDocument | ToolbenchError): ToolDocument {
  if (entry instanceof ToolbenchError) throw entry;
  return entry;
}

type EntryKind = 'file' | 'directory' | 'other' | 'missing';

/** What is at `path`, following links; an unreadable path is an input error (exit 2). */
function kindOf(path: string): EntryKind {
  try {
    const stats = statSync(path);
    return stats.isFile() ? 'file' : stats.isDirectory() ? 'directory' : 'other';
  } catch (error) {
    if (isMissing(error)) return 'missing';
    throw fileError(path, error);
  }
}

function entryKind(directory: string, entry: Dirent): EntryKind {
  if (entry.isSymbolicLink()) return kindOf(join(directory, entry.name));
  return entry.isFile() ? 'file' : entry.isDirectory() ? 'directory' : 'other';
}

/** The entries of a directory; none when it does not exist; an input error when unreadable. */
function readDirectory(path: string): Dirent[] {
  try {
    return readdirSync(path, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
    throw fileError(path, error);
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
