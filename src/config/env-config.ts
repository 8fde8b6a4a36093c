/**
 * How tool calls are answered: which environment, where its tools, cache and recordings are, and
 * how observations are shaped. One table of settings (flag, variables, config-file keys, default);
 * StableToolBench's `server/config.yml` keys are accepted as aliases, so its file can be passed
 * to `--config` as is (its `api_key` is refused: keys come from the environment).
 */
import { delimiter } from 'node:path';
import { OBSERVATION_COMPRESS_METHODS, type ObservationCompress } from '../env/tool-call.js';
import {
  optionalText,
  parseBoolean,
  parseChoice,
  parseList,
  parseNumber,
  type ConfigFile,
  type Env,
  type FlagValues,
  type SettingOrigin,
  type SettingSpec,
} from './settings.js';
import { resolveSettings } from './settings.js';

export const ENV_KINDS = ['virtual', 'service', 'rapidapi', 'local', 'replay'] as const;
export type EnvKind = (typeof ENV_KINDS)[number];
export const REAL_BACKENDS = ['service', 'rapidapi'] as const;

const setting = <T>(spec: SettingSpec<T>): SettingSpec<T> => spec;
const path = (flag: string, env: string[], file: string[]) => setting<string | undefined>({ flag, env, file, parse: optionalText, fallback: undefined, path: true });

/** The defaults are upstream's where upstream has one (algorithms.md §5, formats.md §12–13). */
export const ENV_SETTINGS = {
  kind: setting<EnvKind>({ flag: 'env', env: ['TOOLBENCH_ENV'], file: ['env'], parse: parseChoice(ENV_KINDS), fallback: 'virtual' }),
  tools: path('tools', ['TOOLBENCH_TOOLS'], ['tools', 'tools_folder']),
  responseExamples: path('responseExamples', ['TOOLBENCH_RESPONSE_EXAMPLES'], ['response_examples']),
  cache: path('cache', ['TOOLBENCH_CACHE'], ['cache', 'cache_folder']),
  saveCache: setting({ flag: 'saveCache', env: ['TOOLBENCH_SAVE_CACHE'], file: ['save_cache', 'is_save'], parse: parseBoolean, fallback: true }),
  allowReal: setting({ flag: 'allowReal', env: ['TOOLBENCH_ALLOW_REAL'], file: ['allow_real'], parse: parseBoolean, fallback: false }),
  real: setting<(typeof REAL_BACKENDS)[number]>({ flag: 'real', env: ['TOOLBENCH_REAL'], file: ['real'], parse: parseChoice(REAL_BACKENDS), fallback: 'service' }),
  maxObservationLength: setting({
    flag: 'maxObservationLength',
    env: ['TOOLBENCH_MAX_OBSERVATION_LENGTH'],
    file: ['max_observation_length'],
    parse: parseNumber({ integer: true, min: 1 }),
    fallback: 1024,
  }),
  observationCompress: setting<ObservationCompress>({
    flag: 'observationCompress',
    env: ['TOOLBENCH_OBSERVATION_COMPRESS'],
    file: ['observation_compress'],
    parse: parseChoice(OBSERVATION_COMPRESS_METHODS),
    fallback: 'truncate',
  }),
  seed: setting({ flag: 'seed', env: ['TOOLBENCH_SEED'], file: ['seed'], parse: parseNumber({ integer: true, min: 0 }), fallback: 0 }),
  record: path('record', ['TOOLBENCH_RECORD'], ['record']),
  replayFrom: setting<readonly string[]>({ flag: 'replayFrom', env: ['TOOLBENCH_REPLAY_FROM'], file: ['replay_from'], parse: parseList(delimiter), fallback: [], path: true }),
  serviceUrl: setting<string | undefined>({
    flag: 'serviceUrl',
    env: ['TOOLBENCH_SERVICE_URL', 'SERVICE_URL'],
    file: ['service_url', 'toolbench_url'],
    parse: optionalText,
    fallback: undefined,
  }),
  timeoutSeconds: setting({ flag: 'timeout', env: ['TOOLBENCH_TIMEOUT'], file: ['timeout'], parse: parseNumber({ min: 0.001 }), fallback: 15 }),
  retries: setting({ flag: 'retries', env: ['TOOLBENCH_RETRIES'], file: ['retries'], parse: parseNumber({ integer: true, min: 0 }), fallback: 3 }),
  simulatorModel: setting({
    flag: 'simulatorModel',
    env: ['TOOLBENCH_SIMULATOR_MODEL'],
    file: ['simulator_model', 'model'],
    parse: (raw, where) => optionalText(raw, where) as string,
    fallback: 'gpt-4-turbo',
  }),
  simulatorBaseUrl: setting<string | undefined>({
    flag: 'simulatorBaseUrl',
    env: ['TOOLBENCH_SIMULATOR_BASE_URL', 'OPENAI_BASE_URL', 'OPENAI_API_BASE'],
    file: ['simulator_base_url', 'api_base'],
    parse: optionalText,
    fallback: undefined,
  }),
  simulatorTemperature: setting({
    flag: 'simulatorTemperature',
    env: ['TOOLBENCH_SIMULATOR_TEMPERATURE'],
    file: ['simulator_temperature', 'temperature'],
    parse: parseNumber({ min: 0, max: 2 }),
    fallback: 0,
  }),
} as const;

/** Keys, from the environment only; never printed. */
export interface EnvKeys {
  readonly openai?: string;
  readonly toolbench?: string;
  readonly rapidapi?: string;
}

export type EnvSettings = { readonly [K in keyof typeof ENV_SETTINGS]: (typeof ENV_SETTINGS)[K] extends SettingSpec<infer T> ? T : never };

export interface EnvConfig extends EnvSettings {
  readonly keys: EnvKeys;
  readonly origins: Readonly<Record<keyof EnvSettings, SettingOrigin>>;
}

export function resolveEnvConfig(sources: {
  flags: FlagValues;
  env: Env;
  config?: ConfigFile;
  warn: (message: string) => void;
  otherFileKeys?: readonly string[];
}): EnvConfig {
  const { settings, origins } = resolveSettings(ENV_SETTINGS, sources);
  const keys: EnvKeys = {
    openai: nonEmpty(sources.env.OPENAI_API_KEY) ?? nonEmpty(sources.env.OPENAI_KEY),
    toolbench: nonEmpty(sources.env.TOOLBENCH_KEY),
    rapidapi: nonEmpty(sources.env.RAPIDAPI_KEY),
  };
  return Object.freeze({ ...(settings as EnvSettings), keys, origins });
}

/** The configuration as JSON for `--json` output: keys only say whether they are set. */
export function describeEnvConfig(config: EnvConfig): Record<string, unknown> {
  const { keys, origins, ...settings } = config;
  return {
    ...settings,
    keys: { OPENAI_API_KEY: keys.openai !== undefined, TOOLBENCH_KEY: keys.toolbench !== undefined, RAPIDAPI_KEY: keys.rapidapi !== undefined },
    origins,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
