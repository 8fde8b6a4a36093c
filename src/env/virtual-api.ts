/**
 * StableToolBench's virtual API (spec formats.md §13.1): answer a call from the response cache,
 * else (when allowed) from a real call whose reply passes `check_result`, else from an LLM
 * simulation; new replies are written back to the cache. The in-process `virtual` environment and
 * `toolbench serve tools` both run this, so they answer identically.
 */
import { CHAT_WITH_USER_RESPONSE, SIMULATION_FAILED_ERROR } from '../protocol/prompts.js';
import { changeName, standardize, standardizeCategory } from '../registry/names.js';
import type { ToolDocument } from '../registry/tool-document.js';
import type { ToolEnvironment } from '../registry/tool-environment.js';
import { ToolbenchError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import type { PyValue } from '../util/py-value.js';
import { isUsableRealReply } from './real-reply-check.js';
import { cacheKey, type CacheLocation, type ResponseCache } from './response-cache.js';
import { parseToolInput } from './tool-input.js';
import { toolInputErrorReply } from './tool-result.js';
import { isSafeSegment } from '../util/path-segment.js';
import { buildApiDoc, selectExamples, type Simulator } from './simulator.js';
import { serverReply, type ApiRef, type CallOptions, type ToolBackend, type ToolCallSource } from './tool-call.js';

/** The request body of `POST /virtual` (formats.md §13.1); `strip` and `toolbench_key` are ignored. */
export interface VirtualRequest {
  readonly category: string;
  readonly tool_name: string;
  readonly api_name: string;
  /** The model's arguments: a JSON text, or an object already parsed. */
  readonly tool_input: string | PyValue;
}

/** What happened, in the vocabulary of upstream's server log (`TYPE:`), plus our two extra cases. */
export type VirtualOutcomeType =
  | 'cached_real_response'
  | 'real_response'
  | 'fake_response'
  | 'tool_input_parse_error'
  | 'chat_with_user'
  | 'simulation_failed'
  | 'no_simulator';

export interface VirtualOutcome {
  readonly reply: PyValue;
  readonly source: ToolCallSource;
  readonly type: VirtualOutcomeType;
}

export interface VirtualApiOptions {
  readonly cache?: ResponseCache;
  /** Write new real and simulated replies to the cache (upstream `is_save`, default true). */
  readonly save: boolean;
  /** Tool documentation for the simulator; without it the simulator sees an empty description. */
  readonly tools?: ToolEnvironment;
  /** Real calls (`--allow-real`): the service or RapidAPI. */
  readonly real?: ToolBackend;
  readonly simulator?: Pick<Simulator, 'simulate'>;
  readonly warn: (message: string) => void;
}

/** Names as the server derives them from a request (formats.md §13.1 step 1). */
export interface VirtualTarget {
  readonly location: CacheLocation;
  /** The call as a real backend gets it: the tool name before its first `_for_`. */
  readonly api: ApiRef;
  /** The standard tool name of the tool file holding the documentation. */
  readonly toolFile: string;
}

export function resolveVirtualTarget(request: Pick<VirtualRequest, 'category' | 'tool_name' | 'api_name'>): VirtualTarget {
  const category = standardizeCategory(request.category);
  const forTool = `_for_${request.tool_name}`;
  const fullApi = changeName(standardize(request.api_name));
  const cut = fullApi.indexOf(forTool);
  const api = cut === -1 ? fullApi : fullApi.slice(0, cut);
  const toolDir = request.tool_name.endsWith(`_for_${category}`) ? request.tool_name : `${standardize(request.tool_name)}_for_${category}`;
  for (const [field, value] of [['category', category], ['tool_name', toolDir], ['api_name', `${api}.json`]] as const) {
    if (!isSafeSegment(value)) throw new ToolbenchError('request.unsafe-name', 2, `${field}: not a usable name: ${JSON.stringify(value)}`);
  }
  return {
    location: { category, toolDir, api },
    api: { category, tool: request.tool_name.split('_for_')[0] as string, api },
    toolFile: standardize(request.tool_name).split('_for_')[0] as string,
  };
}

export class VirtualApi {
  private warnedNoSimulator = false;

  constructor(private readonly options: VirtualApiOptions) {}

  get cache(): ResponseCache | undefined {
    return this.options.cache;
  }

  /** Answers one request. Throws only for names that would leave the cache folder. */
  async handle(request: VirtualRequest, callOptions: CallOptions = {}): Promise<VirtualOutcome> {
    const target = resolveVirtualTarget(request);
    const { cache } = this.options;
    if (target.location.api === 'chat_with_user') {
      return { reply: serverReply('', CHAT_WITH_USER_RESPONSE), source: 'environment', type: 'chat_with_user' };
    }
    const input = parseToolInput(request.tool_input);
    if (input === undefined) {
      return { reply: toolInputErrorReply(), source: 'environment', type: 'tool_input_parse_error' };
    }
    const key = cacheKey(input);
    const cached = await cache?.lookup(target.location, key);
    if (cached !== undefined) return { reply: cached, source: 'cache', type: 'cached_real_response' };

    const real = await this.callReal(target, request.tool_input, callOptions);
    if (real !== undefined) {
      await this.save(target, key, real);
      return { reply: real, source: 'real', type: 'real_response' };
    }
    return this.simulate(target, key, input, callOptions);
  }

  private async callReal(target: VirtualTarget, toolInput: string | PyValue, callOptions: CallOptions): Promise<PyValue | undefined> {
    if (this.options.real === undefined) return undefined;
    const args = typeof toolInput === 'string' ? toolInput : pyJsonDumps(toolInput);
    try {
      const answer = await this.options.real.answer(target.api, args, callOptions);
      return answer.kind === 'reply' && isUsableRealReply(answer.reply) ? answer.reply : undefined;
    } catch (error) {
      if (!(error instanceof ToolbenchError)) throw error;
      this.options.warn(`real call to ${describe(target)} failed, simulating instead: ${error.message}`);
      return undefined;
    }
  }

  private async simulate(target: VirtualTarget, key: string, input: PyValue, callOptions: CallOptions): Promise<VirtualOutcome> {
    const failed = serverReply(SIMULATION_FAILED_ERROR, '');
    const { simulator, cache } = this.options;
    if (simulator === undefined) {
      if (!this.warnedNoSimulator) {
        this.warnedNoSimulator = true;
        this.options.warn(
          `no cached response for ${describe(target)} and no simulator configured: set OPENAI_API_KEY (and --simulator-base-url for a local model), or use --env replay`,
        );
      }
      return { reply: failed, source: 'environment', type: 'no_simulator' };
    }
    const examples = selectExamples(cache === undefined ? [] : await cache.entries(target.location));
    const apiDoc = buildApiDoc(this.toolDocument(target), target.location.api);
    const simulated = await simulator.simulate({ apiDoc, examples, toolInput: input }, callOptions.signal);
    if (!simulated.ok) {
      this.options.warn(`simulation of ${describe(target)} failed after ${simulated.attempts} attempts: ${simulated.reason}`);
      return { reply: failed, source: 'environment', type: 'simulation_failed' };
    }
    await this.save(target, key, simulated.reply);
    return { reply: simulated.reply, source: 'simulated', type: 'fake_response' };
  }

  private toolDocument(target: VirtualTarget): ToolDocument | undefined {
    try {
      return this.options.tools?.find(target.location.category, target.toolFile);
    } catch (error) {
      if (!(error instanceof ToolbenchError)) throw error;
      this.options.warn(`${error.message} (simulating without the tool's documentation)`);
      return undefined;
    }
  }

  private async save(target: VirtualTarget, key: string, reply: PyValue): Promise<void> {
    if (this.options.save && this.options.cache !== undefined) await this.options.cache.store(target.location, key, reply);
  }
}

/** The in-process `virtual` environment: the virtual API without HTTP. */
export function createVirtualBackend(api: VirtualApi): ToolBackend {
  return {
    async answer(ref: ApiRef, args: string, options?: CallOptions) {
      const outcome = await api.handle({ category: ref.category, tool_name: ref.tool, api_name: ref.api, tool_input: args }, options);
      return { kind: 'reply', reply: outcome.reply, source: outcome.source };
    },
    async close() {
      await api.cache?.settled();
    },
  };
}


function describe(target: VirtualTarget): string {
  return `${target.location.category}/${target.location.toolDir}/${target.location.api}`;
}
