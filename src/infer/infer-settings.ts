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

/** The flags as commander gives them (strings; lists for repeatable flags). */
export interface InferFlags {
  readonly queries?: readonly string[];
  readonly out?: string;
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
  readonly workers?: string;
  readonly rpm?: string;
  readonly shard?: string;
  readonly ids?: string;
  readonly maxCost?: string;
  readonly prices?: string;
  readonly overwrite?: boolean;
  readonly compat?: readonly string[];
  readonly finish?: string;
  readonly json?: boolean;
}

export interface InferSettings {
  /** Query files in order; `-` is standard input. Empty for `--backbone replay`. */
  readonly queries: readonly string[];
  /** A folder, or `-` for standard output. */
  readonly out: string;
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
  readonly workers: number;
  readonly rpm?: number;
  readonly shard?: Shard;
  readonly ids?: ReadonlySet<string>;
  readonly maxCost?: number;
  readonly pricesFile?: string;
  readonly overwrite: boolean;
  readonly compat: ReadonlySet<CompatFlag>;
  readonly finish: FinishVersion;
  readonly json: boolean;
}

export function resolveInferSettings(flags: InferFlags, env: Readonly<Record<string, string | undefined>>): InferSettings {
  // a local checkpoint runs in-process behind the toolllama backbone
  const backbone = choice('--backbone', flags.backbone ?? (flags.modelPath !== undefined ? 'toolllama' : INFER_DEFAULTS.backbone), BACKBONE_KINDS);
  if (flags.modelPath !== undefined && backbone !== 'toolllama') throw usageError(`--model-path runs the checkpoint in-process with --backbone toolllama, not ${backbone}`);
  if (flags.loraPath !== undefined && flags.modelPath === undefined) throw usageError('--lora-path is an adapter for --model-path DIR');
  if (flags.modelPath !== undefined && flags.baseUrl !== undefined) throw usageError('--model-path runs the model in-process; --base-url is for a model served elsewhere: give one of them');
  const queries = flags.queries ?? [];
  if (backbone === 'replay' && queries.length > 0) throw usageError('--backbone replay reads the queries from the recorded answer files (--replay-from); leave out --queries');
  if (backbone !== 'replay' && queries.length === 0) throw usageError('--queries FILE is required (a query file, or - for standard input)');
  const out = flags.out;
  if (out === undefined || out === '') throw usageError('--out is required: the folder for the answer files, or - for JSON lines on standard output');
  if (out === '-' && flags.json === true) throw usageError('--out - and --json both write to standard output: give --out a folder to stream events with --json');
  if (flags.history !== undefined && backbone !== 'toolllama') throw usageError('--history is for --backbone toolllama');
  if (flags.truncatePromptTokens !== undefined && backbone !== 'toolllama') throw usageError('--truncate-prompt-tokens is for --backbone toolllama');
  const workers = integer('--workers', flags.workers, INFER_DEFAULTS.workers, 1);
  const settings: InferSettings = {
    queries,
    out,
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
    workers,
    rpm: flags.rpm === undefined ? undefined : integer('--rpm', flags.rpm, 0, 1),
    shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
    ids: flags.ids === undefined ? undefined : idList(flags.ids),
    maxCost: number('--max-cost', flags.maxCost, { min: 0 }),
    pricesFile: flags.prices,
    overwrite: flags.overwrite === true,
    compat: new Set((flags.compat ?? []).map((flag) => choice('--compat', flag, COMPAT_FLAGS))),
    finish: choice('--finish', flags.finish ?? INFER_DEFAULTS.finish, FINISH_VERSIONS),
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
