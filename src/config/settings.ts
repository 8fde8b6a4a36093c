/**
 * Settings resolved in one place with one precedence: flags, then environment variables, then
 * the YAML config file (`--config`), then defaults (style.md §3). Each setting names its flag,
 * its variables and its file keys, so help, errors and `--json` output can say where a value
 * came from. Only src/config/ reads the environment; it is passed in, never taken from `process`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { usageError } from '../util/errors.js';

export type Env = Readonly<Record<string, string | undefined>>;
export type SettingOrigin = 'flag' | 'env' | 'file' | 'default';

export interface SettingSpec<T> {
  /** The commander attribute name of the flag (`maxObservationLength` for --max-observation-length). */
  readonly flag: string;
  /** Variables read, first set wins. */
  readonly env: readonly string[];
  /** Keys of the config file, first present wins (our snake_case name first, upstream aliases after). */
  readonly file: readonly string[];
  /** Turns a raw value (a string from a flag or a variable, any YAML value) into the setting. */
  readonly parse: (raw: unknown, where: string) => T;
  readonly fallback: T;
  /** Values from the config file are paths relative to the file's folder. */
  readonly path?: boolean;
}

export type SettingTable = Readonly<Record<string, SettingSpec<unknown>>>;
export type Resolved<Table extends SettingTable> = { readonly [K in keyof Table]: Table[K] extends SettingSpec<infer T> ? T : never };

/** What the command line said: values commander parsed and, for each, whether the user gave it. */
export interface FlagValues {
  readonly values: Readonly<Record<string, unknown>>;
  readonly given: (flag: string) => boolean;
}

export interface ConfigFile {
  readonly file: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** Keys that would hold secrets: refused in config files (users.md §3 item 12). */
const SECRET_KEYS = new Set(['api_key', 'openai_key', 'openai_api_key', 'toolbench_key', 'rapidapi_key', 'key']);

export function loadConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`--config ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  let values: unknown;
  try {
    values = parseYaml(text) ?? {};
  } catch (error) {
    throw usageError(`--config ${file}: not valid YAML: ${(error as Error).message}`);
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw usageError(`--config ${file}: expected a mapping of settings at the top level`);
  }
  return { file, values: values as Record<string, unknown> };
}

export function resolveSettings<Table extends SettingTable>(
  table: Table,
  sources: { flags: FlagValues; env: Env; config?: ConfigFile; warn: (message: string) => void; otherFileKeys?: readonly string[] },
): { settings: Resolved<Table>; origins: Record<keyof Table, SettingOrigin> } {
  const settings: Record<string, unknown> = {};
  const origins: Record<string, SettingOrigin> = {};
  for (const [name, spec] of Object.entries(table)) {
    const [value, origin] = resolveOne(spec, sources);
    settings[name] = value;
    origins[name] = origin;
  }
  if (sources.config !== undefined) checkFileKeys(table, sources.config, sources.warn, sources.otherFileKeys ?? []);
  return { settings: Object.freeze(settings) as Resolved<Table>, origins: origins as Record<keyof Table, SettingOrigin> };
}

function resolveOne(
  spec: SettingSpec<unknown>,
  { flags, env, config }: { flags: FlagValues; env: Env; config?: ConfigFile },
): [unknown, SettingOrigin] {
  if (flags.given(spec.flag)) return [spec.parse(flags.values[spec.flag], `--${kebab(spec.flag)}`), 'flag'];
  for (const name of spec.env) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') return [spec.parse(raw, name), 'env'];
  }
  if (config !== undefined) {
    for (const key of spec.file) {
      const raw = config.values[key];
      if (raw === undefined || raw === null) continue;
      const where = `${config.file}: ${key}`;
      const value = spec.parse(raw, where);
      return [spec.path ? resolvePaths(value, dirname(config.file)) : value, 'file'];
    }
  }
  return [spec.fallback, 'default'];
}

function checkFileKeys(table: SettingTable, config: ConfigFile, warn: (message: string) => void, otherKeys: readonly string[]): void {
  const known = new Set([...Object.values(table).flatMap((spec) => spec.file), ...otherKeys]);
  for (const key of Object.keys(config.values)) {
    if (SECRET_KEYS.has(key)) warn(`${config.file}: ${key} ignored: keys come from the environment only (OPENAI_API_KEY, TOOLBENCH_KEY, RAPIDAPI_KEY)`);
    else if (!known.has(key)) warn(`${config.file}: unknown setting ${key} ignored`);
  }
}

function resolvePaths(value: unknown, base: string): unknown {
  if (typeof value === 'string') return resolve(base, value);
  if (Array.isArray(value)) return value.map((item) => (typeof item === 'string' ? resolve(base, item) : item));
  return value;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

// Parsers shared by the setting tables.

export const parseText = (raw: unknown, where: string): string => {
  if (typeof raw === 'string' && raw !== '') return raw;
  if (typeof raw === 'number') return String(raw);
  throw usageError(`${where}: expected a non-empty text, got ${JSON.stringify(raw)}`);
};

export const optionalText = (raw: unknown, where: string): string | undefined => parseText(raw, where);

export function parseChoice<T extends string>(choices: readonly T[]): (raw: unknown, where: string) => T {
  return (raw, where) => {
    if (typeof raw === 'string' && (choices as readonly string[]).includes(raw)) return raw as T;
    throw usageError(`${where}: expected one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`);
  };
}

export function parseNumber(options: { integer?: boolean; min?: number; max?: number }): (raw: unknown, where: string) => number {
  return (raw, where) => {
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    const ok =
      Number.isFinite(value) &&
      (!options.integer || Number.isInteger(value)) &&
      (options.min === undefined || value >= options.min) &&
      (options.max === undefined || value <= options.max);
    if (!ok) {
      const kind = options.integer ? 'an integer' : 'a number';
      const range = [options.min !== undefined ? `>= ${options.min}` : '', options.max !== undefined ? `<= ${options.max}` : ''].filter(Boolean).join(' and ');
      throw usageError(`${where}: expected ${kind}${range === '' ? '' : ` ${range}`}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

export const parseBoolean = (raw: unknown, where: string): boolean => {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true;
  if (typeof raw === 'string' && /^(0|false|no|off)$/i.test(raw)) return false;
  throw usageError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
};

/** A list: repeated flags, a YAML list, or a variable with entries separated by the path delimiter. */
export function parseList(delimiter: string): (raw: unknown, where: string) => readonly string[] {
  return (raw, where) => {
    if (Array.isArray(raw)) return raw.map((item) => parseText(item, where));
    if (typeof raw === 'string') return raw.split(delimiter).filter((item) => item !== '');
    throw usageError(`${where}: expected a list, got ${JSON.stringify(raw)}`);
  };
}
