/**
 * The settings of `infer` other than the tool environment's, validated in one place: flags, then
 * the environment for the endpoint, then defaults. Usage errors (exit 2) say which flag is wrong.
 */
import { BACKBONE_KINDS, type BackboneKind } from '../llm/create-backbone.js';
import { MESSAGE_SHAPES, type MessageShape } from '../llm/backbone.js';
import { TOOLLLAMA_HISTORIES, type ToolLlamaHistory } from '../llm/toolllama-prompt.js';
import { FINISH_VERSIONS, type FinishVersion } from '../registry/function-schema.js';
import { parseMethod } from '../search/method.js';
import { COMPAT_FLAGS, SEARCH_DEFAULTS, type CompatFlag, type SearchMethod } from '../search/types.js';
import { usageError } from '../util/errors.js';
import { parseShard, type Shard } from './shard.js';

export const INFER_DEFAULTS = Object.freeze({
  method: 'DFS_woFilter_w2',
  backbone: 'openai' as BackboneKind,
  ...SEARCH_DEFAULTS,
  workers: 1,
  finish: 'current' as FinishVersion,
});

/** The flags of the model and the search, shared by `infer` and `serve agent` (strings, as commander gives them). */
export interface SearchFlags {
  readonly method?: string;
  readonly backbone?: string;
  readonly model?: string;
  readonly baseUrl?: string;
  readonly modelPath?: string;
  readonly loraPath?: string;
  readonly shape?: string;
  readonly history?: string;
  readonly truncatePromptTokens?: string;
  readonly temperature?: string;
  readonly maxTokens?: string;
  readonly maxQueryCount?: string;
  readonly maxDepth?: string;
  readonly rpm?: string;
  readonly prices?: string;
  readonly compat?: readonly string[];
  readonly finish?: string;
  readonly retriever?: string;
  readonly corpus?: string;
  readonly topK?: string;
}

/** The flags of `infer`. */
export interface InferFlags extends SearchFlags {
  readonly queries?: readonly string[];
  readonly out?: string;
  readonly workers?: string;
  readonly shard?: string;
  readonly ids?: string;
  readonly maxCost?: string;
  readonly overwrite?: boolean;
  readonly json?: boolean;
}

/** Upstream's `--retrieved_api_nums` default. */
export const DEFAULT_TOP_K = 5;

export interface RetrieverSettings {
  /** A sentence-transformers checkpoint folder. */
  readonly model: string;
  /** The `corpus.tsv` of `preprocess retriever`. */
  readonly corpus: string;
  /** APIs given to each query (`--retrieved_api_nums`). */
  readonly topK: number;
}

export interface SearchSettings {
  readonly method: SearchMethod;
  readonly backbone: BackboneKind;
  readonly model?: string;
  /** A checkpoint run in-process (toolllama backbone), with an optional LoRA adapter. */
  readonly modelPath?: string;
  readonly loraPath?: string;
  readonly baseUrl?: string;
  readonly shape: MessageShape;
  readonly history?: ToolLlamaHistory;
  /** toolllama: undefined leaves the backbone's default (7168); 0 sends none. */
  readonly truncatePromptTokens?: number;
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly maxQueryCount: number;
  readonly maxDepth: number;
  readonly rpm?: number;
  readonly pricesFile?: string;
  readonly compat: ReadonlySet<CompatFlag>;
  readonly finish: FinishVersion;
  /** Open domain: the retriever chooses each query's APIs. */
  readonly retriever?: RetrieverSettings;
}

export interface InferSettings extends SearchSettings {
  /** Query files in order; `-` is standard input. Empty for `--backbone replay`. */
  readonly queries: readonly string[];
  /** A folder, or `-` for standard output. */
  readonly out: string;
  readonly workers: number;
  readonly shard?: Shard;
  readonly ids?: ReadonlySet<string>;
  readonly maxCost?: number;
  readonly overwrite: boolean;
  readonly json: boolean;
}

/** The model and search settings; usage errors (exit 2) say which flag is wrong. */
export function resolveSearchSettings(flags: SearchFlags, env: Readonly<Record<string, string | undefined>>): SearchSettings {
  // a local checkpoint runs in-process behind the toolllama backbone
  const backbone = choice('--backbone', flags.backbone ?? (flags.modelPath !== undefined ? 'toolllama' : INFER_DEFAULTS.backbone), BACKBONE_KINDS);
  if (flags.modelPath !== undefined && backbone !== 'toolllama') throw usageError(`--model-path runs the checkpoint in-process with --backbone toolllama, not ${backbone}`);
  if (flags.loraPath !== undefined && flags.modelPath === undefined) throw usageError('--lora-path is an adapter for --model-path DIR');
  if (flags.modelPath !== undefined && flags.baseUrl !== undefined) throw usageError('--model-path runs the model in-process; --base-url is for a model served elsewhere: give one of them');
  if (flags.history !== undefined && backbone !== 'toolllama') throw usageError('--history is for --backbone toolllama');
  if (flags.truncatePromptTokens !== undefined && backbone !== 'toolllama') throw usageError('--truncate-prompt-tokens is for --backbone toolllama');
  return {
    method: parseMethod(flags.method ?? INFER_DEFAULTS.method),
    backbone,
    model: flags.model,
    modelPath: flags.modelPath,
    loraPath: flags.loraPath,
    baseUrl: nonEmpty(flags.baseUrl) ?? nonEmpty(env.OPENAI_BASE_URL) ?? nonEmpty(env.OPENAI_API_BASE),
    shape: choice('--shape', flags.shape ?? (backbone === 'toolllama' ? 'functions' : 'tools'), MESSAGE_SHAPES),
    history: flags.history === undefined ? undefined : choice('--history', flags.history, TOOLLLAMA_HISTORIES),
    truncatePromptTokens: flags.truncatePromptTokens === undefined ? undefined : integer('--truncate-prompt-tokens', flags.truncatePromptTokens, 0, 0),
    temperature: number('--temperature', flags.temperature, { min: 0, max: 2 }),
    maxTokens: flags.maxTokens === undefined ? undefined : integer('--max-tokens', flags.maxTokens, 0, 1),
    maxQueryCount: integer('--max-query-count', flags.maxQueryCount, INFER_DEFAULTS.maxQueryCount, 1),
    maxDepth: integer('--max-depth', flags.maxDepth, INFER_DEFAULTS.maxDepth, 1),
    rpm: flags.rpm === undefined ? undefined : integer('--rpm', flags.rpm, 0, 1),
    pricesFile: flags.prices,
    compat: new Set((flags.compat ?? []).map((flag) => choice('--compat', flag, COMPAT_FLAGS))),
    finish: choice('--finish', flags.finish ?? INFER_DEFAULTS.finish, FINISH_VERSIONS),
    ...retrieverSettings(flags),
  };
}

function retrieverSettings(flags: SearchFlags): { retriever?: RetrieverSettings } {
  if (flags.retriever === undefined) {
    if (flags.corpus !== undefined) throw usageError('--corpus is the document file of --retriever DIR: give both');
    if (flags.topK !== undefined) throw usageError('--top-k is for --retriever DIR');
    return {};
  }
  if (flags.corpus === undefined) throw usageError('--retriever needs --corpus FILE: the corpus.tsv written by "toolbench preprocess retriever"');
  return { retriever: { model: flags.retriever, corpus: flags.corpus, topK: integer('--top-k', flags.topK, DEFAULT_TOP_K, 1) } };
}

export function resolveInferSettings(flags: InferFlags, env: Readonly<Record<string, string | undefined>>): InferSettings {
  const search = resolveSearchSettings(flags, env);
  const queries = flags.queries ?? [];
  if (search.backbone === 'replay' && queries.length > 0) throw usageError('--backbone replay reads the queries from the recorded answer files (--replay-from); leave out --queries');
  if (search.backbone === 'replay' && search.retriever !== undefined) throw usageError('--backbone replay runs the recorded APIs again; leave out --retriever');
  if (search.backbone !== 'replay' && queries.length === 0) throw usageError('--queries FILE is required (a query file, or - for standard input)');
  const out = flags.out;
  if (out === undefined || out === '') throw usageError('--out is required: the folder for the answer files, or - for JSON lines on standard output');
  if (out === '-' && flags.json === true) throw usageError('--out - and --json both write to standard output: give --out a folder to stream events with --json');
  const settings: InferSettings = {
    ...search,
    queries,
    out,
    workers: integer('--workers', flags.workers, INFER_DEFAULTS.workers, 1),
    shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
    ids: flags.ids === undefined ? undefined : idList(flags.ids),
    maxCost: number('--max-cost', flags.maxCost, { min: 0 }),
    overwrite: flags.overwrite === true,
    json: flags.json === true,
  };
  return Object.freeze(settings);
}

function choice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw usageError(`${flag} ${value}: expected one of ${choices.join(', ')}`);
}

function integer(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) throw usageError(`${flag} ${text}: expected an integer of at least ${min}`);
  return value;
}

function number(flag: string, text: string | undefined, range: { min: number; max?: number }): number | undefined {
  if (text === undefined) return undefined;
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value) || value < range.min || (range.max !== undefined && value > range.max)) {
    throw usageError(`${flag} ${text}: expected a number ${range.max === undefined ? `of at least ${range.min}` : `from ${range.min} to ${range.max}`}`);
  }
  return value;
}

function idList(text: string): ReadonlySet<string> {
  const ids = text.split(',').map((id) => id.trim()).filter((id) => id !== '');
  if (ids.length === 0) throw usageError(`--ids ${JSON.stringify(text)}: expected query ids separated by commas, e.g. 588,1055`);
  return new Set(ids);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
