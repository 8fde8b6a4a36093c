import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Chalk } from 'chalk';
import { Command, CommanderError } from 'commander';
import { addEnvOptions, envConfigOf } from '../../src/cli/env-options.js';
import type { CliIo, Reporter } from '../../src/cli/io.js';
import { describeEnvConfig, resolveEnvConfig, type EnvConfig } from '../../src/config/env-config.js';
import { loadConfigFile, type ConfigFile, type Env, type FlagValues } from '../../src/config/settings.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { fixture } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-env-config-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let files = 0;
/** Writes a YAML config file in a folder of its own and returns its path. */
function configFile(text: string): string {
  const file = join(mkdtempSync(join(scratch, `config-${++files}-`)), 'config.yml');
  writeFileSync(file, text);
  return file;
}

/** Flags as commander would give them: only those named are "given". */
function flags(values: Record<string, unknown> = {}): FlagValues {
  return { values, given: (flag) => Object.prototype.hasOwnProperty.call(values, flag) };
}

function resolve(sources: { flags?: FlagValues; env?: Env; config?: ConfigFile }): { config: EnvConfig; warnings: string[] } {
  const warnings: string[] = [];
  const config = resolveEnvConfig({ flags: sources.flags ?? flags(), env: sources.env ?? {}, config: sources.config, warn: (message) => void warnings.push(message) });
  return { config, warnings };
}

/** Parses argv with the real environment flags and resolves it as a command does. */
function fromCli(argv: readonly string[], env: Env = {}, options: { only?: 'virtual' } = {}): { config: EnvConfig; warnings: string[] } {
  const command = addEnvOptions(new Command('call'), options)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  command.parse([...argv], { from: 'user' });
  const warnings: string[] = [];
  const io: CliIo = { stdout: { write: () => true }, stderr: { write: () => true }, env };
  const reporter: Reporter = { warn: (message) => void warnings.push(message), info: () => {}, error: () => {}, style: new Chalk({ level: 0 }) };
  return { config: envConfigOf(command, io, reporter), warnings };
}

function isUsageError(error: unknown): boolean {
  return error instanceof ToolbenchError && error.exitCode === 2 && error.code === 'usage.invalid';
}

function isCommanderRejection(error: unknown): boolean {
  return error instanceof CommanderError && error.code === 'commander.invalidArgument';
}

describe('env config defaults', () => {
  test("with nothing set every setting has upstream's default", () => {
    const { config, warnings } = resolve({});
    assert.equal(config.kind, 'virtual');
    assert.equal(config.maxObservationLength, 1024);
    assert.equal(config.observationCompress, 'truncate');
    assert.equal(config.saveCache, true);
    assert.equal(config.allowReal, false);
    assert.equal(config.real, 'service');
    assert.equal(config.simulatorModel, 'gpt-4-turbo');
    assert.equal(config.simulatorTemperature, 0);
    assert.equal(config.timeoutSeconds, 15);
    assert.equal(config.retries, 3);
    assert.equal(config.seed, 0);
    assert.deepEqual(config.replayFrom, []);
    assert.equal(config.cache, undefined);
    assert.equal(config.tools, undefined);
    assert.equal(config.serviceUrl, undefined);
    assert.deepEqual(config.keys, { openai: undefined, toolbench: undefined, rapidapi: undefined });
    assert.ok(Object.values(config.origins).every((origin) => origin === 'default'));
    assert.deepEqual(warnings, []);
  });

  test('the resolved config is frozen', () => {
    assert.ok(Object.isFrozen(resolve({}).config));
  });
});

describe('env config precedence: flags > environment > config file > defaults', () => {
  // setting, flag attribute and value, variable and value, file key and value, the three results, the default
  const cases = [
    { setting: 'maxObservationLength', flag: ['maxObservationLength', '100'], env: ['TOOLBENCH_MAX_OBSERVATION_LENGTH', '200'], file: ['max_observation_length', 300], expected: [100, 200, 300], fallback: 1024 },
    { setting: 'kind', flag: ['env', 'service'], env: ['TOOLBENCH_ENV', 'replay'], file: ['env', 'local'], expected: ['service', 'replay', 'local'], fallback: 'virtual' },
    { setting: 'simulatorModel', flag: ['simulatorModel', 'm-flag'], env: ['TOOLBENCH_SIMULATOR_MODEL', 'm-env'], file: ['model', 'm-file'], expected: ['m-flag', 'm-env', 'm-file'], fallback: 'gpt-4-turbo' },
    { setting: 'serviceUrl', flag: ['serviceUrl', 'http://flag/'], env: ['SERVICE_URL', 'http://env/'], file: ['toolbench_url', 'http://file/'], expected: ['http://flag/', 'http://env/', 'http://file/'], fallback: undefined },
    { setting: 'observationCompress', flag: ['observationCompress', 'filter'], env: ['TOOLBENCH_OBSERVATION_COMPRESS', 'random'], file: ['observation_compress', 'truncate'], expected: ['filter', 'random', 'truncate'], fallback: 'truncate' },
    { setting: 'timeoutSeconds', flag: ['timeout', '2.5'], env: ['TOOLBENCH_TIMEOUT', '30'], file: ['timeout', 60], expected: [2.5, 30, 60], fallback: 15 },
    { setting: 'simulatorBaseUrl', flag: ['simulatorBaseUrl', 'http://f/v1'], env: ['OPENAI_BASE_URL', 'http://e/v1'], file: ['api_base', 'http://c/v1'], expected: ['http://f/v1', 'http://e/v1', 'http://c/v1'], fallback: undefined },
  ] as const;

  for (const { setting, flag, env, file, expected, fallback } of cases) {
    test(`${setting}: a flag beats the environment, which beats the file, which beats the default`, () => {
      const config: ConfigFile = { file: '/etc/toolbench/config.yml', values: { [file[0]]: file[1] } };
      const all = { flags: flags({ [flag[0]]: flag[1] }), env: { [env[0]]: env[1] }, config };
      const read = (sources: Parameters<typeof resolve>[0]) => {
        const { config: resolved } = resolve(sources);
        return [resolved[setting], resolved.origins[setting]];
      };
      assert.deepEqual(read(all), [expected[0], 'flag']);
      assert.deepEqual(read({ env: all.env, config }), [expected[1], 'env']);
      assert.deepEqual(read({ config }), [expected[2], 'file']);
      assert.deepEqual(read({}), [fallback, 'default']);
    });
  }

  test('an empty variable counts as unset', () => {
    const config: ConfigFile = { file: '/c.yml', values: { max_observation_length: 300 } };
    assert.equal(resolve({ env: { TOOLBENCH_MAX_OBSERVATION_LENGTH: '' }, config }).config.maxObservationLength, 300);
  });

  test('of several variables for one setting the first set one wins', () => {
    assert.equal(resolve({ env: { TOOLBENCH_SERVICE_URL: 'http://a/', SERVICE_URL: 'http://b/' } }).config.serviceUrl, 'http://a/');
    assert.equal(resolve({ env: { OPENAI_BASE_URL: 'http://a/v1', OPENAI_API_BASE: 'http://b/v1' } }).config.simulatorBaseUrl, 'http://a/v1');
    assert.equal(resolve({ env: { OPENAI_API_BASE: 'http://b/v1' } }).config.simulatorBaseUrl, 'http://b/v1');
  });

  test('a flag value that commander did not mark as given is ignored', () => {
    const { config } = resolve({ flags: { values: { maxObservationLength: '5', saveCache: true }, given: () => false }, env: { TOOLBENCH_SAVE_CACHE: 'no' } });
    assert.equal(config.maxObservationLength, 1024);
    assert.equal(config.saveCache, false);
  });
});

describe('env config through the command-line flags', () => {
  test('flags given on the command line win over the environment and the file', () => {
    const file = configFile('max_observation_length: 300\nenv: local\nseed: 9\n');
    const { config } = fromCli(['--max-observation-length', '100', '--env', 'service', '--config', file], { TOOLBENCH_ENV: 'replay', TOOLBENCH_SEED: '7' });
    assert.equal(config.maxObservationLength, 100);
    assert.equal(config.origins.maxObservationLength, 'flag');
    assert.equal(config.kind, 'service');
    assert.equal(config.seed, 7);
    assert.equal(config.origins.seed, 'env');
  });

  test('settings not given as flags come from the environment, then the file, then the defaults', () => {
    const file = configFile('max_observation_length: 300\nretries: 1\n');
    const { config } = fromCli(['--config', file], { TOOLBENCH_RETRIES: '5' });
    assert.deepEqual([config.retries, config.origins.retries], [5, 'env']);
    assert.deepEqual([config.maxObservationLength, config.origins.maxObservationLength], [300, 'file']);
    assert.deepEqual([config.timeoutSeconds, config.origins.timeoutSeconds], [15, 'default']);
  });

  test('--no-save-cache given turns saving off, whatever the environment and file say', () => {
    const file = configFile('is_save: true\n');
    const { config } = fromCli(['--no-save-cache', '--config', file], { TOOLBENCH_SAVE_CACHE: 'true' });
    assert.deepEqual([config.saveCache, config.origins.saveCache], [false, 'flag']);
  });

  test("--no-save-cache not given: commander's implied true does not hide the environment or the file", () => {
    assert.deepEqual(
      (({ config }) => [config.saveCache, config.origins.saveCache])(fromCli([], { TOOLBENCH_SAVE_CACHE: 'false' })),
      [false, 'env'],
    );
    assert.deepEqual(
      (({ config }) => [config.saveCache, config.origins.saveCache])(fromCli(['--config', configFile('is_save: false\n')])),
      [false, 'file'],
    );
    assert.deepEqual(
      (({ config }) => [config.saveCache, config.origins.saveCache])(fromCli([])),
      [true, 'default'],
    );
  });

  test('--allow-real and --real reach the config', () => {
    const { config } = fromCli(['--allow-real', '--real', 'rapidapi']);
    assert.equal(config.allowReal, true);
    assert.equal(config.real, 'rapidapi');
  });

  test('the config file may be named by TOOLBENCH_CONFIG; --config wins over it', () => {
    const fromEnv = configFile('seed: 11\n');
    const fromFlag = configFile('seed: 22\n');
    assert.equal(fromCli([], { TOOLBENCH_CONFIG: fromEnv }).config.seed, 11);
    assert.equal(fromCli(['--config', fromFlag], { TOOLBENCH_CONFIG: fromEnv }).config.seed, 22);
  });

  test('--replay-from may be repeated and keeps its order', () => {
    assert.deepEqual(fromCli(['--replay-from', 'b', '--replay-from', 'a']).config.replayFrom, ['b', 'a']);
  });

  test('paths given as flags are kept as given (not resolved against a config file)', () => {
    const file = configFile('cache: ./from-file\n');
    assert.equal(fromCli(['--cache', 'rel/cache', '--config', file]).config.cache, 'rel/cache');
  });

  test('commander refuses values outside the choices of --env, --observation-compress and --real', () => {
    assert.throws(() => fromCli(['--env', 'bogus']), isCommanderRejection);
    assert.throws(() => fromCli(['--observation-compress', 'zip']), isCommanderRejection);
    assert.throws(() => fromCli(['--real', 'elsewhere']), isCommanderRejection);
  });

  test('a command limited to the virtual environment has no --env, --replay-from, --service-url flags', () => {
    for (const flag of ['--env', '--replay-from', '--service-url', '--timeout', '--retries']) {
      assert.throws(() => fromCli([flag, 'x'], {}, { only: 'virtual' }), (error) => error instanceof CommanderError && error.code === 'commander.unknownOption', flag);
    }
    assert.equal(fromCli(['--cache', 'c'], {}, { only: 'virtual' }).config.cache, 'c');
  });

  test('bad numbers given as flags are usage errors (exit 2)', () => {
    for (const value of ['abc', '1.5', '0', '-3', '']) {
      assert.throws(() => fromCli(['--max-observation-length', value]), isUsageError, `--max-observation-length ${JSON.stringify(value)}`);
    }
    assert.throws(() => fromCli(['--simulator-temperature', '2.5']), isUsageError);
    assert.throws(() => fromCli(['--retries', '-1']), isUsageError);
    assert.throws(() => fromCli(['--seed', 'x']), isUsageError);
  });
});

describe('env config file', () => {
  test("StableToolBench's server/config.yml keys work as aliases", () => {
    const file = fixture('env-config', 'stabletoolbench-config.yml');
    const { config } = fromCli(['--config', file]);
    const folder = dirname(file);
    assert.equal(config.tools, join(folder, 'tools'));
    assert.equal(config.cache, join(folder, 'tool_response_cache'));
    assert.equal(config.saveCache, false);
    assert.equal(config.serviceUrl, 'http://8.130.32.149:8080/rapidapi');
    assert.equal(config.simulatorModel, 'gpt-4-turbo-2024-04-09');
    assert.equal(config.simulatorBaseUrl, 'http://127.0.0.1:12345/v1');
    assert.equal(config.simulatorTemperature, 0.5);
    for (const setting of ['tools', 'cache', 'saveCache', 'serviceUrl', 'simulatorModel', 'simulatorBaseUrl', 'simulatorTemperature'] as const) {
      assert.equal(config.origins[setting], 'file', setting);
    }
  });

  test('our own key wins over an upstream alias in the same file', () => {
    const file = configFile('cache: ./ours\ncache_folder: ./theirs\nsimulator_model: ours\nmodel: theirs\n');
    const { config } = fromCli(['--config', file]);
    assert.equal(config.cache, join(dirname(file), 'ours'));
    assert.equal(config.simulatorModel, 'ours');
  });

  test("relative paths in the file resolve against the file's folder; absolute ones stay", () => {
    const file = configFile(`tools_folder: ../data/tools\ncache: /abs/cache\nrecord: rec\nresponse_examples: ./examples\nreplay_from: [one, /abs/two]\n`);
    const folder = dirname(file);
    const { config } = fromCli(['--config', file]);
    assert.equal(config.tools, join(folder, '..', 'data', 'tools'));
    assert.equal(config.cache, '/abs/cache');
    assert.equal(config.record, join(folder, 'rec'));
    assert.equal(config.responseExamples, join(folder, 'examples'));
    assert.deepEqual(config.replayFrom, [join(folder, 'one'), '/abs/two']);
  });

  test('settings that are not paths are not resolved', () => {
    const { config } = fromCli(['--config', configFile('service_url: ./virtual\nsimulator_model: ./model\n')]);
    assert.equal(config.serviceUrl, './virtual');
    assert.equal(config.simulatorModel, './model');
  });

  test('api_key and other secrets in the file are ignored with a warning and never reach the config', () => {
    const secrets = ['sk-file-SECRET-1', 'tb-file-SECRET-2', 'ra-file-SECRET-3', 'k-file-SECRET-4'];
    const file = configFile(`api_key: ${secrets[0]}\ntoolbench_key: ${secrets[1]}\nrapidapi_key: ${secrets[2]}\nopenai_key: ${secrets[3]}\nseed: 3\n`);
    const { config, warnings } = fromCli(['--config', file]);
    assert.deepEqual(config.keys, { openai: undefined, toolbench: undefined, rapidapi: undefined });
    assert.equal(config.seed, 3);
    assert.equal(warnings.length, 4);
    for (const key of ['api_key', 'toolbench_key', 'rapidapi_key', 'openai_key']) assert.ok(warnings.some((warning) => warning.includes(key)), key);
    const everything = JSON.stringify(config) + JSON.stringify(describeEnvConfig(config)) + warnings.join('\n');
    for (const secret of secrets) assert.equal(everything.includes(secret), false, secret);
  });

  test('the upstream file keeps its key out even when the environment has one', () => {
    const { config, warnings } = fromCli(['--config', fixture('env-config', 'stabletoolbench-config.yml')], { OPENAI_API_KEY: 'sk-env' });
    assert.equal(config.keys.openai, 'sk-env');
    assert.ok(warnings.some((warning) => warning.includes('api_key')));
    assert.equal(JSON.stringify(config).includes('sk-fixture-SECRET-do-not-leak'), false);
  });

  test('unknown keys warn, one warning each, and change nothing', () => {
    const { config, warnings } = fromCli(['--config', configFile('max_obs_length: 5\nflavour: vanilla\nseed: 1\n')]);
    assert.equal(warnings.length, 2);
    assert.ok(warnings.some((warning) => warning.includes('max_obs_length')));
    assert.ok(warnings.some((warning) => warning.includes('flavour')));
    assert.equal(config.maxObservationLength, 1024);
  });

  test('a known key set to null counts as absent', () => {
    const { config, warnings } = fromCli(['--config', configFile('cache_folder: null\nmax_observation_length: ~\n')]);
    assert.equal(config.cache, undefined);
    assert.equal(config.origins.maxObservationLength, 'default');
    assert.deepEqual(warnings, []);
  });

  test('an empty file is no settings', () => {
    const { config, warnings } = fromCli(['--config', configFile('')]);
    assert.ok(Object.values(config.origins).every((origin) => origin === 'default'));
    assert.deepEqual(warnings, []);
  });

  test('a missing file, bad YAML or a file that is not a mapping is a usage error (exit 2)', () => {
    assert.throws(() => loadConfigFile(join(scratch, 'no-such-config.yml')), isUsageError);
    assert.throws(() => fromCli(['--config', join(scratch, 'no-such-config.yml')]), isUsageError);
    assert.throws(() => fromCli([], { TOOLBENCH_CONFIG: join(scratch, 'no-such-config.yml') }), isUsageError);
    assert.throws(() => fromCli(['--config', configFile('env: [virtual\n')]), isUsageError);
    assert.throws(() => fromCli(['--config', configFile('key: value\n  bad indent: x\n')]), isUsageError);
    assert.throws(() => fromCli(['--config', configFile('- env\n- virtual\n')]), isUsageError);
    assert.throws(() => fromCli(['--config', configFile('just text\n')]), isUsageError);
  });

  test('bad values in the file are usage errors (exit 2)', () => {
    for (const yaml of ['observation_compress: zip', 'env: cloud', 'temperature: 3', 'is_save: maybe', 'max_observation_length: 10.5', 'timeout: 0', 'replay_from: 5', 'model: ""']) {
      assert.throws(() => fromCli(['--config', configFile(`${yaml}\n`)]), isUsageError, yaml);
    }
  });
});

describe('env config values', () => {
  test('an unknown environment kind or compress method is a usage error (exit 2), from flags or variables', () => {
    assert.throws(() => resolve({ flags: flags({ env: 'bogus' }) }), isUsageError);
    assert.throws(() => resolve({ env: { TOOLBENCH_ENV: 'bogus' } }), isUsageError);
    assert.throws(() => resolve({ flags: flags({ observationCompress: 'zip' }) }), isUsageError);
    assert.throws(() => resolve({ env: { TOOLBENCH_OBSERVATION_COMPRESS: 'zip' } }), isUsageError);
    assert.throws(() => resolve({ env: { TOOLBENCH_REAL: 'elsewhere' } }), isUsageError);
  });

  test('a non-integer max observation length is a usage error (exit 2), from flags or variables', () => {
    for (const value of ['abc', '12.5', '0', '', ' ']) {
      assert.throws(() => resolve({ flags: flags({ maxObservationLength: value }) }), isUsageError, JSON.stringify(value));
    }
    assert.throws(() => resolve({ env: { TOOLBENCH_MAX_OBSERVATION_LENGTH: '1e400' } }), isUsageError);
    assert.equal(resolve({ env: { TOOLBENCH_MAX_OBSERVATION_LENGTH: '2048' } }).config.maxObservationLength, 2048);
  });

  test('booleans from variables accept 1/0, true/false, yes/no, on/off and nothing else', () => {
    for (const [text, value] of [['1', true], ['TRUE', true], ['yes', true], ['on', true], ['0', false], ['False', false], ['no', false], ['off', false]] as const) {
      assert.equal(resolve({ env: { TOOLBENCH_ALLOW_REAL: text } }).config.allowReal, value, text);
    }
    assert.throws(() => resolve({ env: { TOOLBENCH_ALLOW_REAL: 'sometimes' } }), isUsageError);
  });

  test('TOOLBENCH_REPLAY_FROM is split on the path delimiter, empty entries dropped', () => {
    const { config } = resolve({ env: { TOOLBENCH_REPLAY_FROM: ['runs/a', 'cache', '', 'trees/b'].join(delimiter) } });
    assert.deepEqual(config.replayFrom, ['runs/a', 'cache', 'trees/b']);
    assert.equal(config.origins.replayFrom, 'env');
  });
});

describe('env config keys', () => {
  test('OPENAI_API_KEY is the OpenAI key, OPENAI_KEY its fallback; empty values are unset', () => {
    assert.equal(resolve({ env: { OPENAI_API_KEY: 'sk-a', OPENAI_KEY: 'sk-b' } }).config.keys.openai, 'sk-a');
    assert.equal(resolve({ env: { OPENAI_KEY: 'sk-b' } }).config.keys.openai, 'sk-b');
    assert.equal(resolve({ env: { OPENAI_API_KEY: '', OPENAI_KEY: 'sk-b' } }).config.keys.openai, 'sk-b');
    assert.equal(resolve({ env: { OPENAI_API_KEY: '' } }).config.keys.openai, undefined);
  });

  test('TOOLBENCH_KEY and RAPIDAPI_KEY come from the environment', () => {
    assert.deepEqual(resolve({ env: { TOOLBENCH_KEY: 'tb', RAPIDAPI_KEY: 'ra' } }).config.keys, { openai: undefined, toolbench: 'tb', rapidapi: 'ra' });
    assert.deepEqual(fromCli([], { TOOLBENCH_KEY: 'tb', RAPIDAPI_KEY: 'ra', OPENAI_KEY: 'sk' }).config.keys, { openai: 'sk', toolbench: 'tb', rapidapi: 'ra' });
  });

  test('keys are not taken from flag values', () => {
    const { config } = resolve({ flags: flags({ openaiApiKey: 'sk-flag', toolbenchKey: 'tb-flag', keys: { openai: 'sk-flag' } }) });
    assert.deepEqual(config.keys, { openai: undefined, toolbench: undefined, rapidapi: undefined });
  });

  test('describeEnvConfig says only whether each key is set, never its value', () => {
    const env = { OPENAI_API_KEY: 'sk-SECRET-openai', TOOLBENCH_KEY: 'tb-SECRET-toolbench', TOOLBENCH_CACHE: '/c' };
    const described = describeEnvConfig(resolve({ env }).config);
    assert.deepEqual(described.keys, { OPENAI_API_KEY: true, TOOLBENCH_KEY: true, RAPIDAPI_KEY: false });
    assert.equal(described.cache, '/c');
    assert.equal((described.origins as Record<string, string>).cache, 'env');
    const text = JSON.stringify(described);
    assert.equal(text.includes('SECRET'), false);
  });
});
