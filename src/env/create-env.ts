/**
 * Builds the tool environment a configuration asks for: the backend for `--env`, the shaping of
 * observations around it, and `--record` when asked.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EnvConfig } from '../config/env-config.js';
import { ToolEnvironment } from '../registry/tool-environment.js';
import { usageError } from '../util/errors.js';
import { seededUniform } from '../util/seeded-random.js';
import { createLocalBackend } from './local-env.js';
import { shapeToolEnv } from './observation.js';
import { createRapidApiBackend } from './rapidapi-env.js';
import { createRecorder } from './recording.js';
import { createReplayBackend } from './replay-env.js';
import { ResponseCache } from './response-cache.js';
import { ResponseExamples } from './response-examples.js';
import { createServiceBackend } from './service-env.js';
import { createSimulator } from './simulator.js';
import type { ApiRef, ToolBackend, ToolEnv } from './tool-call.js';
import { VirtualApi, createVirtualBackend } from './virtual-api.js';

export interface EnvDeps {
  readonly warn: (message: string) => void;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The tool folder of `config.tools`, when the caller has it open already. */
  readonly tools?: ToolEnvironment;
}

/** Upstream's client waits 10 s after "Rate limit per minute error..." (algorithms.md §5.3). */
const RATE_LIMIT_PAUSE_MS = 10_000;

export function createToolEnv(config: EnvConfig, deps: EnvDeps): ToolEnv {
  const backend = createBackend(config, deps);
  return shapeToolEnv(backend, {
    maxObservationLength: config.maxObservationLength,
    rateLimitPauseMs: RATE_LIMIT_PAUSE_MS,
    sleep: deps.sleep,
    recorder: config.record === undefined ? undefined : createRecorder(config.record),
  });
}

export function createBackend(config: EnvConfig, deps: EnvDeps): ToolBackend {
  const tools = deps.tools ?? toolsOf(config);
  switch (config.kind) {
    case 'virtual':
      return createVirtualBackend(createVirtualApi(config, deps, tools));
    case 'service':
      return serviceBackend(config, deps);
    case 'rapidapi':
      return rapidApiBackend(config, tools);
    case 'local':
      return createLocalBackend({
        toolsRoot: requireTools(tools, '--env local').root,
        compress: config.observationCompress,
        examples: responseExamples(config, tools),
        draw: drawFor(config),
      });
    case 'replay':
      return createReplayBackend([...config.replayFrom, ...(config.cache === undefined ? [] : [config.cache])], { warn: deps.warn });
  }
}

/** The virtual API of a configuration; `serve tools` builds its server on the same object. */
export function createVirtualApi(config: EnvConfig, deps: EnvDeps, tools = toolsOf(config)): VirtualApi {
  const simulator =
    config.keys.openai === undefined && config.simulatorBaseUrl === undefined
      ? undefined
      : createSimulator({
          baseUrl: config.simulatorBaseUrl,
          apiKey: config.keys.openai ?? 'EMPTY',
          model: config.simulatorModel,
          temperature: config.simulatorTemperature,
          sleep: deps.sleep,
        });
  if (config.cache === undefined) deps.warn('no --cache given: nothing is looked up or saved; every call is simulated');
  return new VirtualApi({
    cache: config.cache === undefined ? undefined : new ResponseCache(config.cache, { warn: deps.warn }),
    save: config.saveCache,
    tools,
    real: config.allowReal ? (config.real === 'service' ? serviceBackend(config, deps) : rapidApiBackend(config, tools)) : undefined,
    simulator,
    warn: deps.warn,
  });
}

function serviceBackend(config: EnvConfig, deps: EnvDeps): ToolBackend {
  if (config.serviceUrl === undefined) {
    throw usageError('the ToolBench service needs its URL: --service-url URL or TOOLBENCH_SERVICE_URL (for example http://localhost:8080/virtual)');
  }
  return createServiceBackend({
    url: config.serviceUrl,
    key: config.keys.toolbench ?? '',
    compress: config.observationCompress,
    timeoutMs: config.timeoutSeconds * 1000,
    retries: config.retries,
    retryBaseMs: 1000,
    sleep: deps.sleep,
  });
}

function rapidApiBackend(config: EnvConfig, tools: ToolEnvironment | undefined): ToolBackend {
  if (config.keys.rapidapi === undefined) throw usageError('RapidAPI calls need your key in RAPIDAPI_KEY');
  return createRapidApiBackend({
    tools: requireTools(tools, 'RapidAPI calls'),
    key: config.keys.rapidapi,
    timeoutMs: config.timeoutSeconds * 1000,
    compress: config.observationCompress,
    examples: responseExamples(config, tools),
    draw: drawFor(config),
  });
}

function toolsOf(config: EnvConfig): ToolEnvironment | undefined {
  return config.tools === undefined ? undefined : ToolEnvironment.open(config.tools);
}

function requireTools(tools: ToolEnvironment | undefined, who: string): ToolEnvironment {
  if (tools === undefined) throw usageError(`${who} need the tool folder: --tools DIR or TOOLBENCH_TOOLS`);
  return tools;
}

/** `--response-examples`, else the `response_examples/` folder beside the tools (toolenv layout). */
function responseExamples(config: EnvConfig, tools: ToolEnvironment | undefined): ResponseExamples {
  if (config.responseExamples !== undefined || tools === undefined) return new ResponseExamples(config.responseExamples);
  const sibling = join(dirname(tools.root), 'response_examples');
  return new ResponseExamples(existsSync(sibling) ? sibling : undefined);
}

function drawFor(config: EnvConfig): (api: ApiRef, args: string) => number {
  return (api, args) => seededUniform(config.seed, api.category, api.tool, api.api, args);
}
