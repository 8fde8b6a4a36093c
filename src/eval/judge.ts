/**
 * One judge function call as ToolEval makes it (tooleval.md §3.3): the evaluator's prompt for
 * the function filled with Python `str.format`, the function's schema (plus a `reason` property
 * when a reason is asked for) sent as the only, forced function, and the call's JSON arguments
 * read back.
 *
 * Differences from upstream, on purpose:
 * - a reply that cannot be used (no call, arguments that are not JSON, a label outside the enum,
 *   a refusal) is retried like a failed request, up to `attempts` times, and every reply is kept
 *   in the record, used or not;
 * - replies are cached by request hash (judge-cache.ts), and can be replayed from a record.
 */
import { JUDGE_REASON_PROPERTY } from '../protocol/prompts.js';
import { ToolbenchError } from '../util/errors.js';
import { PyFormatError, pyFormat } from '../util/py-format.js';
import type { EvaluatorConfig, JudgeFunctionSchema } from './evaluator-config.js';
import type { JudgeCache } from './judge-cache.js';
import { JudgeCallError, judgeRequestKey, type JudgeReply, type JudgeRequest, type JudgeShape, type JudgeTransport } from './judge-transport.js';

/** Upstream makes 3 attempts per function call. */
export const DEFAULT_JUDGE_ATTEMPTS = 3;

/**
 * Failed requests in a row (each already retried by the HTTP client) after which the endpoint is
 * taken to be down and the run stops, instead of scoring every remaining run as a judge error.
 */
export const UNREACHABLE_AFTER = 20;

/** Every reply the judge gave for one job, in order, for the audit record. */
export interface JudgeCallRecord {
  readonly function: string;
  readonly key: string;
  readonly attempt: number;
  readonly cached: boolean;
  readonly reply: JudgeReply | null;
  /** Why the reply was not used; absent when it was. */
  readonly rejected?: string;
}

/** Which job is asking: names the call in errors and records its replies. */
export interface JudgeJob {
  readonly label: string;
  readonly sample: number;
  readonly calls: JudgeCallRecord[];
  readonly signal?: AbortSignal;
}

/** A reply that cannot be used; the call is asked again. */
export class UnusableReply extends Error {}

/** The judge gave no usable reply within its attempts: this job has no verdict. */
export class JudgeFailure extends Error {}

export interface JudgeOptions {
  readonly evaluator: EvaluatorConfig;
  readonly transport: JudgeTransport;
  readonly shape: JudgeShape;
  /** Replaces the configuration's model (StableToolBench's EVAL_MODEL). */
  readonly model?: string;
  readonly cache?: JudgeCache;
  readonly attempts?: number;
}

export interface Judge {
  readonly model: string;
  readonly shape: JudgeShape;
  readonly evaluator: EvaluatorConfig;
  /**
   * Calls `fn` with the template filled from `fields`; `read` turns the parsed arguments into a
   * value or throws UnusableReply. Returns that value, the arguments and the message text.
   */
  call<T>(job: JudgeJob, fn: string, fields: Readonly<Record<string, unknown>>, options: { readonly returnReason: boolean }, read: (args: Record<string, unknown>) => T): Promise<{ value: T; args: Record<string, unknown>; content: string | null }>;
  /** A chat-template call (the `fn` evaluators): the template's messages filled from `fields`. */
  callMessages<T>(job: JudgeJob, fn: string, fields: Readonly<Record<string, unknown>>, read: (args: Record<string, unknown>) => T): Promise<{ value: T; args: Record<string, unknown>; content: string | null }>;
}

export function createJudge(options: JudgeOptions): Judge {
  const { evaluator, transport, cache } = options;
  const model = options.model ?? evaluator.model;
  const attempts = options.attempts ?? DEFAULT_JUDGE_ATTEMPTS;
  let failedInARow = 0;

  async function ask<T>(job: JudgeJob, request: JudgeRequest, read: (args: Record<string, unknown>) => T) {
    const key = judgeRequestKey(request);
    let lastProblem = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      job.signal?.throwIfAborted();
      const cached = attempt === 0 ? cache?.get(key) : undefined;
      let reply: JudgeReply;
      try {
        reply = cached ?? (await transport.send(request, attempt, job.signal));
        failedInARow = 0;
      } catch (error) {
        if (!(error instanceof JudgeCallError)) throw error;
        if (++failedInARow >= UNREACHABLE_AFTER) {
          throw new ToolbenchError('llm.unreachable', 1, `the judge failed ${failedInARow} requests in a row; last: ${error.message}. What was judged is written; run again to resume`);
        }
        lastProblem = error.message;
        job.calls.push({ function: request.function.name, key, attempt, cached: false, reply: null, rejected: error.message });
        continue;
      }
      try {
        const args = argumentsOf(reply);
        const value = read(args);
        job.calls.push({ function: request.function.name, key, attempt, cached: cached !== undefined, reply });
        if (cached === undefined) cache?.put(key, reply);
        return { value, args, content: reply.content };
      } catch (error) {
        if (!(error instanceof UnusableReply)) throw error;
        lastProblem = error.message;
        job.calls.push({ function: request.function.name, key, attempt, cached: cached !== undefined, reply, rejected: error.message });
      }
    }
    throw new JudgeFailure(`${job.label}: ${request.function.name}: no usable judge reply in ${attempts} attempt(s); last: ${lastProblem}`);
  }

  function schemaFor(fn: string, returnReason: boolean): JudgeFunctionSchema {
    const schema = evaluator.functions.get(fn);
    if (schema === undefined) throw new ToolbenchError('usage.invalid', 2, `evaluator ${evaluator.name} has no function schema ${fn}`);
    if (!returnReason) return schema;
    const copy = structuredClone(schema) as JudgeFunctionSchema & { parameters: { properties: Record<string, unknown>; required?: string[] } };
    copy.parameters.required = [...(copy.parameters.required ?? []), 'reason'];
    copy.parameters.properties = { ...copy.parameters.properties, reason: { ...JUDGE_REASON_PROPERTY } };
    return copy;
  }

  function fill(template: string, fields: Readonly<Record<string, unknown>>, fn: string): string {
    try {
      return pyFormat(template, fields);
    } catch (error) {
      if (!(error instanceof PyFormatError)) throw error;
      throw new ToolbenchError('usage.invalid', 2, `evaluator ${evaluator.name}: the template of ${fn} cannot be filled: ${error.message}`);
    }
  }

  function request(messages: JudgeRequest['messages'], schema: JudgeFunctionSchema, sample: number): JudgeRequest {
    return { model, messages, function: schema, settings: evaluator.requestSettings, shape: options.shape, sample };
  }

  return {
    model,
    shape: options.shape,
    evaluator,
    call(job, fn, fields, { returnReason }, read) {
      const template = evaluator.prompts.get(fn);
      if (template === undefined) throw new ToolbenchError('usage.invalid', 2, `evaluator ${evaluator.name} has no prompt for ${fn}`);
      const messages = [{ role: 'user', content: fill(template, fields, fn) }];
      return ask(job, request(messages, schemaFor(fn, returnReason), job.sample), read);
    },
    callMessages(job, fn, fields, read) {
      const messages = evaluator.messages.map((message) => ({
        role: message.role,
        content: message.role === 'user' ? fill(message.content, fields, fn) : message.content,
      }));
      return ask(job, request(messages, schemaFor(fn, false), job.sample), read);
    },
  };
}

function argumentsOf(reply: JudgeReply): Record<string, unknown> {
  if (reply.arguments === null) {
    if (reply.refusal) throw new UnusableReply(`the judge refused: ${shorten(reply.refusal)}`);
    throw new UnusableReply(`the reply has no function call${reply.content ? ` (text: ${shorten(reply.content)})` : ''}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply.arguments);
  } catch {
    throw new UnusableReply(`the function arguments are not JSON: ${shorten(reply.arguments)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UnusableReply(`the function arguments are not a JSON object: ${shorten(reply.arguments)}`);
  return parsed as Record<string, unknown>;
}

function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Reads an enum label (`answer_status`, `task_status`), refusing anything else. */
export function readLabel<L extends string>(field: string, labels: readonly L[]): (args: Record<string, unknown>) => L {
  return (args) => {
    const value = args[field];
    if (typeof value === 'string' && (labels as readonly string[]).includes(value)) return value as L;
    throw new UnusableReply(`${field} must be one of ${labels.join(', ')}, got ${JSON.stringify(value) ?? 'nothing'}`);
  };
}
