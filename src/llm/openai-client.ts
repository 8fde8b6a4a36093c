/**
 * The one place the `openai` package's client is made, for the model backbones and the
 * StableToolBench simulator. Every setting is passed, so that the package takes none from the
 * environment (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_ADMIN_KEY,
 * OPENAI_WEBHOOK_SECRET, OPENAI_LOG; only OPENAI_CUSTOM_HEADERS has no option to turn it off) and
 * logs nothing. Keys come from our own settings (create-backbone.ts, env-config.ts).
 */
import OpenAI from 'openai';
import { redactor, urlCredentials } from '../util/redact.js';

/** Sent when no key is given: the package refuses an empty key, local OpenAI-compatible servers accept any (vLLM's examples send this). */
export const PLACEHOLDER_API_KEY = 'EMPTY';

/** Defaults shared by the `openai` and `toolllama` backbones (algorithms.md §6.1, §6.5). */
export const BACKBONE_DEFAULTS = Object.freeze({
  maxTokens: 1024,
  /** Retries by the package after the first attempt (408/409/429/5xx, connection errors). */
  maxRetries: 5,
});

export interface OpenAIClientOptions {
  readonly baseUrl: string;
  /** The bearer token; empty means none (PLACEHOLDER_API_KEY is sent). */
  readonly apiKey: string;
  /** Per request, retries included; the package's own default (10 minutes) when absent. */
  readonly timeoutMs?: number;
  readonly maxRetries: number;
  readonly fetch?: typeof fetch;
}

export function createOpenAIClient(options: OpenAIClientOptions): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey === '' ? PLACEHOLDER_API_KEY : options.apiKey,
    baseURL: options.baseUrl,
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    maxRetries: options.maxRetries,
    logLevel: 'off',
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  });
}

/**
 * Removes from a text what must never be shown of a client's settings: the key (not the
 * placeholder), the credentials of the base URL, and anything shaped like an OpenAI key.
 */
export function clientRedactor(options: { readonly baseUrl: string | undefined; readonly apiKey: string | undefined }): (text: string) => string {
  const key = options.apiKey === PLACEHOLDER_API_KEY ? undefined : options.apiKey;
  return redactor([key, ...urlCredentials(options.baseUrl)]);
}
