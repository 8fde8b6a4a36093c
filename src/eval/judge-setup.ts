/**
 * Building the judge from flags and the environment, for `eval pass-rate` and `eval preference`.
 *
 * Endpoints and keys (formats.md §10): a key-pool file (`--key-pool`, else `API_POOL_FILE`), a
 * JSON list of `{api_key, organization?, api_base?}` (ToolBench's `username`/`passwd` are
 * ignored), plus the key in `OPENAI_API_KEY`/`OPENAI_KEY` when set. Keys come from files and the
 * environment only, never from argv, and are never printed.
 */
import { readJsonFile } from '../util/json-file.js';
import { describeJsonType, inputError, usageError } from '../util/errors.js';
import { isPyObject } from '../util/py-value.js';
import type { EvaluatorConfig } from './evaluator-config.js';
import type { JudgeCache } from './judge-cache.js';
import { createReplayTransport, isJudgeLog, readJudgeLog, type JudgeLogHeader, type JudgeLogEntry } from './judge-log.js';
import { createJudge, type Judge } from './judge.js';
import { createOpenAIJudge, type JudgeShape, type PoolEntry } from './judge-transport.js';
import type { JudgeIdentity, Protocol } from './summary.js';

export const DEFAULT_JUDGE_BASE_URL = 'https://api.openai.com/v1';

export function readKeyPool(file: string, fallbackBaseUrl: string): PoolEntry[] {
  const data = readJsonFile(file);
  if (!Array.isArray(data)) throw inputError(file, '$', 'a list of {"api_key", "organization"?, "api_base"?}', { got: describeJsonType(data) });
  return data.map((item, index) => {
    if (!isPyObject(item)) throw inputError(file, `$[${index}]`, 'an object with api_key', { got: describeJsonType(item) });
    const key = item['api_key'];
    const base = item['api_base'];
    const organization = item['organization'];
    if (key !== null && key !== undefined && typeof key !== 'string') throw inputError(file, `$[${index}].api_key`, 'a string or null', { got: describeJsonType(key) });
    if (base !== null && base !== undefined && typeof base !== 'string') throw inputError(file, `$[${index}].api_base`, 'a URL string or null', { got: describeJsonType(base) });
    return {
      apiKey: key ?? '',
      baseUrl: base || fallbackBaseUrl,
      ...(typeof organization === 'string' && organization !== '' ? { organization } : {}),
    };
  });
}

export interface JudgeChoice {
  /** `--judge`: a model name, or `replay:FILE`. */
  readonly judge?: string;
  readonly protocol: Protocol;
  readonly shape?: JudgeShape;
  readonly baseUrl?: string;
  readonly keyPool?: string;
  readonly timeoutSeconds?: number;
  readonly attempts: number;
  readonly cache?: JudgeCache;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fetch?: typeof fetch;
}

export type JudgeSetup =
  | { readonly kind: 'live'; readonly judge: Judge; readonly identity: JudgeIdentity; readonly endpoints: number }
  | { readonly kind: 'replay-log'; readonly judge: Judge; readonly identity: JudgeIdentity; readonly file: string; readonly header: JudgeLogHeader; readonly entries: readonly JudgeLogEntry[] }
  | { readonly kind: 'replay-results'; readonly identity: JudgeIdentity; readonly file: string };

export const REPLAY_PREFIX = 'replay:';

export function setUpJudge(evaluator: EvaluatorConfig, choice: JudgeChoice): JudgeSetup {
  const shape = choice.shape ?? (choice.protocol === 'stable' ? 'tools' : 'functions');
  const identity = (model: string): JudgeIdentity => ({ evaluator: evaluator.name, model, template_sha256: evaluator.templateSha256, config_sha256: evaluator.configSha256 });
  if (choice.judge?.startsWith(REPLAY_PREFIX)) {
    const file = choice.judge.slice(REPLAY_PREFIX.length);
    if (file === '') throw usageError('--judge replay:FILE needs a file: an audit log (*.judge.jsonl) or an upstream result JSON');
    if (!isJudgeLog(file)) return { kind: 'replay-results', identity: identity(choice.judge), file };
    const { header, entries } = readJudgeLog(file);
    if (header.template_sha256 !== evaluator.templateSha256 || header.config_sha256 !== evaluator.configSha256) {
      throw usageError(`--judge ${choice.judge}: it was judged with evaluator ${header.evaluator} (template ${header.template_sha256.slice(0, 12)}), not ${evaluator.name} (template ${evaluator.templateSha256.slice(0, 12)}); give the same --evaluator`);
    }
    // the recorded requests decide: their shape (by the log's protocol) and as many attempts as were made
    const recordedShape = choice.shape ?? (header.shape === 'tools' || header.shape === 'functions' ? header.shape : header.protocol === 'stable' ? 'tools' : 'functions');
    const attempts = Math.max(choice.attempts, ...entries.flatMap((entry) => entry.calls.map((call) => call.attempt + 1)));
    const judge = createJudge({ evaluator, transport: createReplayTransport(file, entries), shape: recordedShape, model: header.judge_model, attempts });
    return { kind: 'replay-log', judge, identity: identity(header.judge_model), file, header, entries };
  }
  // StableToolBench reads the judge model from EVAL_MODEL
  const model = choice.judge ?? (choice.protocol === 'stable' ? choice.env['EVAL_MODEL'] : undefined) ?? evaluator.model;
  const baseUrl = choice.baseUrl ?? (choice.env['OPENAI_BASE_URL'] || choice.env['OPENAI_API_BASE'] || DEFAULT_JUDGE_BASE_URL);
  if (/^[a-z]+:\/\/[^/]*@/i.test(baseUrl)) throw usageError('--base-url must not carry a user name or password; put the key in OPENAI_API_KEY or a --key-pool file');
  const poolFile = choice.keyPool ?? (choice.env['API_POOL_FILE'] || undefined);
  const pool = poolFile === undefined ? [] : readKeyPool(poolFile, baseUrl);
  const envKey = choice.env['OPENAI_API_KEY'] || choice.env['OPENAI_KEY'];
  if (envKey) pool.push({ apiKey: envKey, baseUrl, ...(choice.env['OPENAI_ORG'] ? { organization: choice.env['OPENAI_ORG'] } : {}) });
  if (pool.length === 0) {
    if (baseUrl === DEFAULT_JUDGE_BASE_URL) {
      throw usageError('the judge needs an API key: set OPENAI_API_KEY, or give a --key-pool file (or API_POOL_FILE); for a local OpenAI-compatible server give its --base-url');
    }
    pool.push({ apiKey: '', baseUrl });
  }
  const timeoutSeconds = choice.timeoutSeconds ?? evaluator.timeoutSeconds;
  const transport = createOpenAIJudge({ pool, ...(timeoutSeconds !== undefined ? { timeoutMs: timeoutSeconds * 1000 } : {}), ...(choice.fetch ? { fetch: choice.fetch } : {}) });
  const judge = createJudge({ evaluator, transport, shape, model, attempts: choice.attempts, ...(choice.cache ? { cache: choice.cache } : {}) });
  return { kind: 'live', judge, identity: identity(model), endpoints: pool.length };
}
