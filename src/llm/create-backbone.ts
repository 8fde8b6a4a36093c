/**
 * Builds the model backbone of `infer` (and later `serve agent`) from resolved settings: the
 * `openai` chat backbone or the `toolllama` text backbone, behind one rate limiter shared by every
 * query of the run. Keys come from the environment only; a local server needs none.
 */
import { basename } from 'node:path';
import { createLocalCompleter } from '../runner/local-completer.js';
import { usageError } from '../util/errors.js';
import type { Backbone, MessageShape } from './backbone.js';
import { createOpenAIBackbone } from './openai-backbone.js';
import { loadPriceTable, type PriceTable } from './prices.js';
import { createRateLimiter } from './rate-limiter.js';
import { createToolLlamaBackbone } from './toolllama-backbone.js';
import type { ToolLlamaHistory } from './toolllama-prompt.js';

export const BACKBONE_KINDS = ['openai', 'toolllama', 'replay'] as const;
export type BackboneKind = (typeof BACKBONE_KINDS)[number];

export interface BackboneSettings {
  readonly kind: Exclude<BackboneKind, 'replay'>;
  readonly model: string | undefined;
  /** toolllama: a checkpoint run in-process on the model runner instead of a server. */
  readonly modelPath?: string;
  readonly loraPath?: string;
  /** `--base-url`, else OPENAI_BASE_URL / OPENAI_API_BASE. */
  readonly baseUrl: string | undefined;
  /** OPENAI_API_KEY / OPENAI_KEY. */
  readonly apiKey: string | undefined;
  readonly shape: MessageShape;
  readonly history?: ToolLlamaHistory;
  readonly temperature?: number;
  /** Sent to the model only when set (`--seed` given); upstream sends none. */
  readonly seed?: number;
  readonly maxTokens?: number;
  /** toolllama: vLLM's `truncate_prompt_tokens`; undefined for the backbone's default, 0 to send none. */
  readonly truncatePromptTokens?: number;
  /** `--prices FILE`, merged over the built-in prices. */
  readonly pricesFile?: string;
  /** A price table already loaded, in place of `pricesFile`. */
  readonly prices?: PriceTable;
  /** Requests in flight at once (the number of workers). */
  readonly concurrency?: number;
  /** `--rpm`. */
  readonly requestsPerMinute?: number;
}

export function createBackbone(settings: BackboneSettings): Backbone {
  // a local checkpoint is named after its folder unless --model says otherwise
  const model = settings.model ?? (settings.modelPath !== undefined ? basename(settings.modelPath.replace(/[\\/]+$/, '')) : undefined);
  if (model === undefined || model === '') {
    const example = settings.kind === 'openai' ? 'gpt-4o-mini, or gpt-3.5-turbo-16k-0613 as ToolBench used' : 'ToolBench/ToolLLaMA-2-7b-v2, as the server names it';
    throw usageError(`--backbone ${settings.kind} needs --model (e.g. ${example})`);
  }
  if (settings.baseUrl !== undefined) checkBaseUrl(settings.baseUrl);
  const prices = settings.prices ?? loadPriceTable(settings.pricesFile);
  const limiter = createRateLimiter({ concurrency: settings.concurrency, requestsPerMinute: settings.requestsPerMinute });
  const common = {
    model,
    shape: settings.shape,
    ...(settings.temperature === undefined ? {} : { temperature: settings.temperature }),
    ...(settings.seed === undefined ? {} : { seed: settings.seed }),
    ...(settings.maxTokens === undefined ? {} : { maxTokens: settings.maxTokens }),
    limiter,
  };
  if (settings.kind === 'toolllama' && settings.modelPath !== undefined) {
    return createToolLlamaBackbone({
      ...common,
      local: createLocalCompleter(settings.modelPath, { device: 'auto', ...(settings.loraPath !== undefined ? { loraPath: settings.loraPath } : {}) }),
      ...(settings.history === undefined ? {} : { history: settings.history }),
      ...(settings.truncatePromptTokens === undefined ? {} : { truncatePromptTokens: settings.truncatePromptTokens }),
    });
  }
  if (settings.kind === 'toolllama') {
    if (settings.baseUrl === undefined) {
      throw usageError(
        '--backbone toolllama needs --base-url (or OPENAI_BASE_URL): the OpenAI-compatible completions endpoint that serves the model, ' +
          'e.g. http://localhost:8000/v1 after "vllm serve ToolBench/ToolLLaMA-2-7b-v2"',
      );
    }
    return createToolLlamaBackbone({
      ...common,
      baseUrl: settings.baseUrl,
      ...(settings.apiKey === undefined ? {} : { apiKey: settings.apiKey }),
      ...(settings.history === undefined ? {} : { history: settings.history }),
      ...(settings.truncatePromptTokens === undefined ? {} : { truncatePromptTokens: settings.truncatePromptTokens }),
      costOf: (usage) => prices.costOf(model, usage),
    });
  }
  if (settings.apiKey === undefined && settings.baseUrl === undefined) {
    throw usageError(
      '--backbone openai needs an API key in OPENAI_API_KEY (or OPENAI_KEY); ' +
        'for a local OpenAI-compatible server (vLLM, SGLang, llama.cpp) give its --base-url (or OPENAI_BASE_URL) and no key is needed',
    );
  }
  return createOpenAIBackbone({
    ...common,
    ...(settings.baseUrl === undefined ? {} : { baseUrl: settings.baseUrl }),
    apiKey: settings.apiKey ?? 'EMPTY', // what vLLM's examples pass
    prices,
  });
}

/** Node's fetch refuses URLs with credentials (and would quote them in its error): say so up front. */
function checkBaseUrl(baseUrl: string): void {
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw usageError(`--base-url ${JSON.stringify(baseUrl)} is not an http(s) URL (expected e.g. http://localhost:8000/v1)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw usageError('--base-url must not carry a user name or password (fetch refuses them); pass the key in OPENAI_API_KEY');
  }
}
