/**
 * The flags of the tool environments, shared by every command that calls tools (`tools call`,
 * `serve tools`, later `infer` and `serve agent`), and their resolution into an EnvConfig with
 * the precedence flags > environment > `--config` file > defaults.
 */
import { Option, type Command } from 'commander';
import { ENV_KINDS, REAL_BACKENDS, resolveEnvConfig, type EnvConfig } from '../config/env-config.js';
import { OBSERVATION_COMPRESS_METHODS } from '../env/tool-call.js';
import { loadConfigFile, type ConfigFile, type FlagValues } from '../config/settings.js';
import type { EnvDeps } from '../env/create-env.js';
import { sleep } from '../util/sleep.js';
import type { CliIo, Reporter } from './io.js';
import { TOOLS_DIR_HELP } from './flag-help.js';

/** Commander's collector for a repeatable flag. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds the environment flags. None has a commander default: unset flags fall through to env/file. */
export function addEnvOptions(command: Command, options: { only?: 'virtual' } = {}): Command {
  if (options.only === undefined) {
    command.addOption(new Option('--env <kind>', 'how tool calls are answered (default virtual)').choices(ENV_KINDS));
  }
  command
    .option('--config <file>', 'YAML settings (keys as the flags in snake_case; StableToolBench server/config.yml keys work too)')
    .option('--tools <dir>', TOOLS_DIR_HELP)
    .option('--cache <dir>', 'response cache, StableToolBench layout <Category>/<tool>_for_<Category>/<api>.json')
    .option('--no-save-cache', 'do not write new replies to the cache')
    .option('--allow-real', 'virtual: on a cache miss try a real call first (see --real)')
    .addOption(new Option('--real <backend>', 'virtual --allow-real: the real calls go to the ToolBench service or straight to RapidAPI (default service)').choices(REAL_BACKENDS))
    .option('--simulator-model <name>', 'virtual: model that simulates missing responses (default gpt-4-turbo)')
    .option('--simulator-base-url <url>', 'virtual: OpenAI-compatible endpoint of the simulator (default OPENAI_BASE_URL or OpenAI)')
    .option('--simulator-temperature <t>', 'virtual: sampling temperature of the simulator (default 0)')
    .option('--response-examples <dir>', 'response_examples/ folder for --observation-compress filter|random (default: beside --tools)')
    .option('--max-observation-length <n>', 'cut observations to n characters plus "..." (default 1024)')
    .addOption(new Option('--observation-compress <method>', 'how RapidAPI and local results are shortened (default truncate)').choices(OBSERVATION_COMPRESS_METHODS))
    .option('--seed <n>', 'seed of the random compression draw (default 0)')
    .option('--record <dir>', 'append every call, its reply and observation to DIR/calls-*.jsonl (replay with --env replay --replay-from DIR)');
  if (options.only === undefined) {
    command
      .option('--replay-from <path>', 'replay: a recording, a response cache or answer trees (repeatable; searched in order)', collect)
      .option('--service-url <url>', 'service: the ToolBench service URL (or TOOLBENCH_SERVICE_URL); key from TOOLBENCH_KEY')
      .option('--timeout <seconds>', 'service and rapidapi: per-request timeout (default 15)')
      .option('--retries <n>', 'service: retries on 5xx and connection errors, with backoff (default 3)');
  }
  return command;
}

/**
 * The EnvConfig of a command's flags, the environment and the config file. `otherFileKeys` are
 * config-file keys the command reads itself (not reported as unknown).
 */
export function envConfigOf(command: Command, io: CliIo, reporter: Reporter, options: { otherFileKeys?: readonly string[] } = {}): EnvConfig {
  const values = command.optsWithGlobals() as Record<string, unknown>;
  const flags: FlagValues = {
    values,
    // commander sets `saveCache: true` itself for --no-save-cache: only what the user typed counts
    given: (flag) => values[flag] !== undefined && sourceOf(command, flag) === 'cli',
  };
  const configFile = (values.config as string | undefined) ?? io.env.TOOLBENCH_CONFIG;
  const config: ConfigFile | undefined = configFile === undefined || configFile === '' ? undefined : loadConfigFile(configFile);
  return resolveEnvConfig({ flags, env: io.env, config, warn: reporter.warn, otherFileKeys: options.otherFileKeys });
}

export function envDeps(reporter: Reporter): EnvDeps {
  return { warn: reporter.warn, sleep };
}

function sourceOf(command: Command, flag: string): string | undefined {
  for (let current: Command | null = command; current !== null; current = current.parent) {
    const source = current.getOptionValueSource(flag);
    if (source !== undefined && source !== 'default') return source;
  }
  return undefined;
}
